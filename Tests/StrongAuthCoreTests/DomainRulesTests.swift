import Foundation
import Testing

@testable import StrongAuthCore

/// The pure rules of the domain model, without a database or HTTP: scopes, lockout limits,
/// approval and process states read at a moment, operation templates, login numbers, audit
/// failure windows.
@Suite("Domain rules")
struct DomainRulesTests {
    static let now = Date(timeIntervalSince1970: 1_796_000_000)

    @Test("scopes: RFC 6749 §3.3 scope-token grammar, sorted wire form, subset and intersection")
    func scopes() throws {
        let parsed = try #require(Scopes(parsing: "  transfers accounts  accounts "))
        #expect(parsed.wire == "accounts transfers")
        #expect(Scopes(parsing: "accounts \"quoted\"") == nil)
        #expect(Scopes(parsing: "back\\slash") == nil)
        #expect(Scopes(parsing: "caf\u{e9}") == nil)
        #expect(try #require(Scopes(parsing: "")).isEmpty)
        #expect(Scopes(["accounts"]).isSubset(of: parsed))
        #expect(!Scopes(["admin"]).isSubset(of: parsed))
        #expect(parsed.intersection(Scopes(["accounts", "admin"])) == Scopes(["accounts"]))
        let decoded = try JSONDecoder().decode(Scopes.self, from: try JSONEncoder().encode(parsed))
        #expect(decoded == parsed)
    }

    @Test("lockout: at least one failure and one second, whatever the configuration says")
    func lockoutClamps() {
        #expect(LockoutPolicy(maxFailures: 0, lockDuration: -5) == LockoutPolicy(maxFailures: 1, lockDuration: 1))
    }

    static func approval(status: Approval.Status, expiresIn: TimeInterval) -> Approval {
        Approval(
            id: "a", kind: .operation, userID: "u", externalUserID: "alice", applicationID: "app", template: "default.login",
            operationType: "login", parameters: [:], data: "A2", status: status, maxFailureCount: 5,
            signatureTypes: ["possession_knowledge"], createdAt: now.addingTimeInterval(-10), expiresAt: now.addingTimeInterval(expiresIn),
            updatedAt: now)
    }

    @Test("approval: a PENDING one past its expiry reads EXPIRED; end states stay; Shine's three statuses")
    func approvalStates() {
        #expect(Self.approval(status: .pending, expiresIn: 1).status(at: Self.now) == .pending)
        #expect(Self.approval(status: .pending, expiresIn: 0).status(at: Self.now) == .expired)
        for status in Approval.Status.allCases where status != .pending {
            #expect(Self.approval(status: status, expiresIn: -100).status(at: Self.now) == status)
        }
        let shine = Dictionary(uniqueKeysWithValues: Approval.Status.allCases.map { ($0, Approval.shineStatus($0)) })
        #expect(
            shine == [
                .pending: "PENDING", .expired: "PENDING", .approved: "CONFIRMED", .rejected: "REJECTED", .canceled: "REJECTED", .failed: "REJECTED",
            ])
    }

    @Test("operation templates: every placeholder needs a value; values cannot smuggle separators or line breaks")
    func templates() throws {
        let payment = try #require(OperationTemplate.defaults(applicationID: "app").first { $0.name == "default.payment" })
        #expect(try payment.render(["amount": "63.99", "currency": "EUR", "account": "CZ32"]) == "A1*A63.99EUR*ICZ32")
        #expect(throws: ApprovalError.self) { try payment.render(["amount": "1", "currency": "EUR"]) }
        #expect(throws: ApprovalError.self) { try payment.render(["amount": "1*A9", "currency": "EUR", "account": "x"]) }
        #expect(throws: ApprovalError.self) { try payment.render(["amount": "1\n", "currency": "EUR", "account": "x"]) }
        #expect(throws: ApprovalError.self) { try payment.render(["amount": String(repeating: "9", count: 257), "currency": "EUR", "account": "x"]) }
        let screen = payment.screen(["amount": "5"])
        #expect(screen.message == "Please confirm the payment of 5 ${currency} to the account ${account}.", "shown, never signed: gaps stay")
        // A '*' a combining mark follows is still the separator (one character, "*́", but the
        // device's data format splits on the byte); every line break, CR LF and the Unicode ones.
        for value in ["1*\u{301}", "\u{2A}", "a\r\nb", "a\u{85}", "a\u{2028}", "a\u{2029}", "a\u{0B}", "a\u{0C}", "a\r"] {
            #expect(throws: ApprovalError.self, "\(Array(value.unicodeScalars))") {
                try payment.render(["amount": value, "currency": "EUR", "account": "x"])
            }
        }
        #expect(try payment.render(["amount": "1\u{301}", "currency": "€", "account": "😀 é"]) == "A1*A1\u{301}€*I😀 é")
    }

    @Test("placeholders: ${name} anywhere, $ and braces alone left as they are, an unclosed one kept once, non-ASCII around them")
    func placeholders() throws {
        let values = ["a": "A", "é": "E", "x": "${a}"]
        for (text, filled) in [
            ("${a}", "A"), ("$${a}}", "$A}"), ("{${a}$", "{A$"), ("é${é}é", "éEé"), ("${x}", "${a}"), ("${a}${a}", "AA"),
            ("no placeholder", "no placeholder"), ("", ""), ("$", "$"), ("${", "${"), ("pre ${a} ${unclosed", "pre A ${unclosed"),
            ("pre ${unclosed", "pre ${unclosed"), ("😀${a}😀", "😀A😀"), ("${missing} ${a}", "${missing} A"),
        ] {
            #expect(try OperationTemplate.fill(text, with: values, template: "t", strict: false) == filled, "\(text)")
        }
        #expect(throws: ApprovalError.validation(field: "parameters.missing", message: "the template t needs it")) {
            try OperationTemplate.fill("${missing}", with: values, template: "t")
        }
    }

    @Test("process tokens: invalidated, then exhausted, then expired, else live")
    func processStates() {
        func process(exchanges: Int = 0, invalidated: Bool = false, expiresIn: TimeInterval = 60) -> IdentityProcess {
            IdentityProcess(
                id: "p", tokenHash: "h", clientID: "c", processType: "USER_ONLY", clientReference: "r", userID: "u", exchanges: exchanges,
                maxExchanges: 1, invalidatedAt: invalidated ? Self.now : nil, createdAt: Self.now, expiresAt: Self.now.addingTimeInterval(expiresIn),
                deleteAfter: Self.now.addingTimeInterval(3600))
        }
        #expect(process().state(at: Self.now) == .live)
        #expect(process(expiresIn: 0).state(at: Self.now) == .expired)
        #expect(process(exchanges: 1, expiresIn: 0).state(at: Self.now) == .exhausted)
        #expect(process(exchanges: 1, invalidated: true).state(at: Self.now) == .invalidated)
    }

    @Test("login numbers: ten-digit accounts, cards without leading zeros, five-digit codes")
    func loginNumbers() {
        #expect(LoginNumbers.account("562813888") == "0562813888")
        #expect(LoginNumbers.account("05628138881") == nil)
        #expect(LoginNumbers.account("12a") == nil)
        #expect(LoginNumbers.account("") == nil)
        #expect(LoginNumbers.card("023") == "23")
        #expect(LoginNumbers.card("000") == "0")
        #expect(LoginNumbers.card("123456") == nil)
        #expect(LoginNumbers.isIdentificationCode("12345"))
        #expect(!LoginNumbers.isIdentificationCode("1234"))
        #expect(!LoginNumbers.isIdentificationCode("1234٥"), "Unicode digits are not ASCII digits")
    }

    @Test("audit failure windows: aligned on every node, also before 1970")
    func failureWindows() {
        let policy = AuditFailurePolicy(windowSeconds: 60)
        #expect(policy.windowStart(of: Date(timeIntervalSince1970: 1_796_000_059.999)) == 1_796_000_040_000)
        #expect(policy.windowStart(of: Date(timeIntervalSince1970: 120)) == 120_000)
        #expect(policy.windowStart(of: Date(timeIntervalSince1970: -1)) == -60_000)
        #expect(AuditFailurePolicy(windowSeconds: 0, maxKeysPerWindow: 0) == AuditFailurePolicy(windowSeconds: 1, maxKeysPerWindow: 1))
    }
}
