/// The released version of StrongAuth (Semantic Versioning 2.0.0): what `strongauth --version`
/// prints and `/health` serves. It is the newest entry of CHANGELOG.md, and a test
/// (`OperationsTests`) fails when the two disagree — bump both in the release commit
/// (docs/operations.md, "Upgrades", says what a major, minor or patch release may change).
public enum StrongAuthVersion {
    public static let current = "1.0.0"
}
