import Foundation

/// The OpenAPI 3.1 document that describes every StrongAuth endpoint, as shipped in this module.
///
/// The same file generates the wire types in this module (swift-openapi-generator), so the
/// document the server publishes at `/openapi.yaml` and the types it encodes cannot drift apart.
public enum OpenAPIDocument {
    /// The raw YAML bytes of `openapi.yaml`.
    public static func yaml() throws -> Data {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
            throw CocoaError(.fileNoSuchFile)
        }
        return try Data(contentsOf: url)
    }
}
