import PurserCore
import PurserYAML

extension PolicySet {
    /// Loads a policy set from files and directories (docs/policy-language.md, "Files,
    /// fragments and merging"): parse every
    /// YAML document, decode it by the schema, merge the fragments, run the
    /// meaning checks.
    ///
    /// ```swift
    /// let result = PolicySet.load(paths: ["policies"])
    /// for diagnostic in result.diagnostics { print(diagnostic) }
    /// guard let policy = result.policy else { exit(2) }
    /// ```
    ///
    /// - Returns: the policy when no error was found, and all diagnostics.
    public static func load(paths: [String], options: PolicyLoadOptions = PolicyLoadOptions()) -> PolicyLoadResult {
        var options = options
        if !options.allowOutsideRoots { options.readRoots = PolicyFiles.roots(of: paths) }
        let (files, problems) = PolicyFiles.discover(paths, allowOutsideRoots: options.allowOutsideRoots)
        var diagnostics = problems.map(\.diagnostic)
        var sources: [(String, [UInt8])] = []
        var total = 0
        for file in files {
            // The whole set is limited too, not only each file (docs/policy-language.md, "Input limits").
            let left = options.maxTotalBytes - total
            switch PolicyFiles.read(file, limit: min(options.yamlLimits.maxBytes, max(left, 0))) {
            case .failure(let problem) where problem.code == .fileTooLarge && left < options.yamlLimits.maxBytes:
                diagnostics.append(FileTooLarge.total(limit: options.maxTotalBytes, read: total).at(SourceLocation(file: file)))
                return PolicyLoadResult(policy: nil, diagnostics: diagnostics.sorted(), files: sources.map(\.0))
            case .failure(let problem):
                diagnostics.append(Diagnostic(problem.code, problem.message, at: SourceLocation(file: file)))
            case .success(let bytes):
                total += bytes.count
                sources.append((file, bytes))
            }
        }
        return load(sources: sources, options: options, diagnostics: diagnostics, roots: paths)
    }

    /// Loads a policy set from in-memory files, as `(name, bytes)` pairs in order.
    public static func load(files: [(name: String, contents: [UInt8])], options: PolicyLoadOptions = PolicyLoadOptions()) -> PolicyLoadResult {
        load(sources: files.map { ($0.name, $0.contents) }, options: options, diagnostics: [], roots: [])
    }

    /// Loads a policy set from one YAML text (a convenience for tests and examples).
    public static func load(yaml: String, file: String = "policy.yaml", options: PolicyLoadOptions = PolicyLoadOptions()) -> PolicyLoadResult {
        load(files: [(file, Array(yaml.utf8))], options: options)
    }

    private static func load(sources: [(String, [UInt8])], options: PolicyLoadOptions, diagnostics initial: [Diagnostic],
                             roots: [String]) -> PolicyLoadResult
    {
        var diagnostics = initial
        let reader = YAMLReader(limits: options.yamlLimits)
        var fragments: [Fragment] = []
        for (file, bytes) in sources {
            let documents: [YAMLDocument]
            do {
                documents = try reader.read(bytes, file: file)
            } catch {
                diagnostics.append(Diagnostic(.forYAML(error.kind), error.message, at: SourceLocation(file: file, mark: error.mark)))
                continue
            }
            let context = DecodingContext(file: file)
            let decoder = FragmentDecoder(context: context)
            var found = 0
            for document in documents {
                if let fragment = decoder.decode(document) {
                    fragments.append(fragment)
                    found += 1
                }
            }
            diagnostics.append(contentsOf: context.diagnostics)
            if found == 0 && context.diagnostics.isEmpty {
                diagnostics.append(EmptyFile.noDocument.at(SourceLocation(file: file)))
            }
        }
        if sources.isEmpty && diagnostics.isEmpty {
            diagnostics.append(NoPolicies.noneGiven.at(SourceLocation(file: ".")))
        }
        var assembler = PolicyAssembler()
        let named = sources.map { (PolicyFiles.revisionName(of: $0.0, roots: roots), $0.1) }
        let assembled = assembler.assemble(fragments, hashes: named, files: sources.map(\.0), options: options)
        diagnostics.append(contentsOf: assembler.diagnostics)
        var policy: PolicySet?
        if let assembled {
            var validator = PolicyValidator(policy: assembled, options: options)
            validator.run()
            diagnostics.append(contentsOf: validator.diagnostics)
            policy = assembled
        }
        diagnostics.sort()
        let hasErrors = diagnostics.contains { $0.severity == .error }
        return PolicyLoadResult(policy: hasErrors ? nil : policy, diagnostics: diagnostics,
                                files: sources.map(\.0) + assembler.readFiles)
    }
}
