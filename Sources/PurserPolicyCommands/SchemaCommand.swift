import ArgumentParser
import Purser

/// `purser schema`: the JSON Schema of the policy language, for editors.
package struct SchemaCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema (draft 2020-12) of the policy language.",
        discussion: """
            Editors that speak JSON Schema complete keys, show what each one does and
            flag unknown keys, wrong types and missing keys as you type. The schema is
            generated from the key lists `purser check` reads policies with, so the two
            agree; it knows keys, types and choices, not whether a name is defined: run
            `purser check` for that.

            VS Code (Red Hat's YAML extension) and other editors that use
            yaml-language-server read the schema a policy file names on its first
            line. Write the schema next to your policies, and name it by a path
            relative to the policy file:

              purser schema > purser.schema.json
              # yaml-language-server: $schema=../purser.schema.json

            or name the published schema instead, by the URL in its "$id"
            (docs/policy-language.md, "Editors: the JSON Schema").

            Leave *.test.yaml files out: they are test cases, not policies.
            """
    )

    package init() {}

    package func run() throws {
        print(JSONSchema.text(), terminator: "")
    }
}
