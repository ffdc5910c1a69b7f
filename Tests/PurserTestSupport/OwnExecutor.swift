import PurserCore

/// Runs a test's body on a queue of its own rather than on the cooperative pool that every
/// test of the run shares: tests that wait on servers, child processes or clocks would
/// otherwise wait minutes for a thread while two cores run hundreds of other tests.
package func onOwnExecutor(_ label: String = "purser.test", _ body: () async throws -> Void) async throws {
    try await withTaskExecutorPreference(DispatchTaskExecutor(label: label)) { try await body() }
}
