import PurserCore
import PurserPolicy
/// Purser's version, as `purser --version` prints it.
public enum PurserVersion {
    /// The semantic version of this build.
    public static let current = "0.1.0"
}
