import HTTPTypes
import HummingbirdTesting
import Testing

@testable import StrongAuthServer

/// `HTTPFields.value(_:)`, the header read of the hot paths: `self[name]`'s answer without the
/// joined copy of a field that appears once — and exactly `self[name]`'s when it appears more.
@Suite("HTTPFields.value: a header as the subscript reads it")
struct HTTPFieldsValueTests {
    @Test("the subscript's answer for a field absent, once, repeated, a Cookie, a name in any case")
    func sameAsSubscript() {
        var fields = HTTPFields()
        fields.append(HTTPField(name: .contentType, value: "application/json"))
        fields.append(HTTPField(name: .accept, value: "a"))
        fields.append(HTTPField(name: .authorization, value: "Basic one"))
        fields.append(HTTPField(name: .accept, value: "b"))
        fields.append(HTTPField(name: .cookie, value: "x=1"))
        fields.append(HTTPField(name: .cookie, value: "y=2"))
        fields.append(HTTPField(name: .authorization, value: "Basic two"))
        let names: [HTTPField.Name] = [.contentType, .accept, .authorization, .cookie, .xForwardedFor, HTTPField.Name("Content-TYPE")!]
        for name in names {
            #expect(fields.value(name) == fields[name], "\(name)")
        }
        #expect(fields.value(.contentType) == "application/json")
        #expect(fields.value(.authorization) == "Basic one, Basic two")
        #expect(fields.value(.cookie) == "x=1; y=2")
        #expect(fields.value(.xForwardedFor) == nil)
    }

    @Test("two Authorization headers are refused, not read as the first")
    func repeatedAuthorizationRefused() async throws {
        try await TestServer.with { server in
            let secret = try await server.createClient()
            try await server.test { client in
                var headers = HTTP.formHeaders(basic: HTTP.basic("shop", secret))
                let body = HTTP.form([("grant_type", "client_credentials")])
                let once = try await client.executeRequest(uri: "/oauth/token", method: .post, headers: headers, body: body)
                #expect(once.status == .ok)
                headers.append(HTTPField(name: .authorization, value: HTTP.basic("shop", secret)))
                let twice = try await client.executeRequest(uri: "/oauth/token", method: .post, headers: headers, body: body)
                #expect(twice.status == .unauthorized)
                #expect(try HTTP.json(twice.body)["error"] as? String == "invalid_client")
            }
        }
    }
}
