import Foundation

/// Something a user must approve on a device (docs/architecture.md): a PowerAuth operation (PowerAuth Cloud REST API) or a
/// Shine action request (Shine's API documentation). One model and one state machine for both faces, so both
/// show up in one pending list and are decided by the same conditional updates.
///
/// ```
/// PENDING ──(device approves the exact data)──▶ APPROVED   (Shine: CONFIRMED)
///    │──(device rejects)─────────────────────▶ REJECTED
///    │──(integrator cancels)─────────────────▶ CANCELED
///    │──(maxFailureCount wrong answers)──────▶ FAILED
///    └──(expiresAt passes)───────────────────▶ EXPIRED   (decided on read; never approvable after)
/// ```
/// Every transition leaves PENDING in one conditional update `… WHERE status = 'PENDING' AND
/// expires_at > now`, so concurrent approvals on several nodes yield exactly one winner.
public struct Approval: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case operation
        case actionRequest = "action_request"
    }

    public enum Status: String, Sendable, CaseIterable {
        case pending = "PENDING"
        case approved = "APPROVED"
        case rejected = "REJECTED"
        case canceled = "CANCELED"
        case expired = "EXPIRED"
        case failed = "FAILED"
    }

    public var id: String
    public var kind: Kind
    /// The internal user id, and the integrator's id of that user (its username).
    public var userID: String
    public var externalUserID: String
    /// The PowerAuth application of an operation.
    public var applicationID: String?
    /// The OAuth client of an action request.
    public var clientID: String?
    /// The action request's payload, as canonical JSON (sorted keys): what its token is bound to.
    public var payload: String?
    public var template: String
    public var operationType: String
    /// The template's parameters (operations).
    public var parameters: [String: String]
    /// Exactly what the device shows and signs (PowerAuth operation data, e.g. `A1*A63.99EUR*ICZ32…`):
    /// dynamic linking (RTS art. 5) compares against this, byte for byte.
    public var data: String
    public var status: Status
    public var failureCount: Int
    public var maxFailureCount: Int
    /// The signature types a device may approve with, e.g. `possession_knowledge`.
    public var signatureTypes: [String]
    public var externalID: String?
    /// Why it was rejected or canceled, when a reason was given.
    public var statusReason: String?
    public var createdAt: Date
    public var expiresAt: Date
    public var updatedAt: Date
    /// What the device's screen says about it (mobile token `formData`), rendered once at
    /// creation from the template: a title and a message with the parameters filled in.
    public var title: String?
    public var message: String?

    public init(
        id: String, kind: Kind, userID: String, externalUserID: String, applicationID: String?, template: String, operationType: String,
        parameters: [String: String], data: String, status: Status = .pending, failureCount: Int = 0, maxFailureCount: Int,
        signatureTypes: [String], externalID: String? = nil, statusReason: String? = nil, createdAt: Date, expiresAt: Date,
        updatedAt: Date, clientID: String? = nil, payload: String? = nil, title: String? = nil, message: String? = nil
    ) {
        self.title = title
        self.message = message
        self.clientID = clientID
        self.payload = payload
        self.id = id
        self.kind = kind
        self.userID = userID
        self.externalUserID = externalUserID
        self.applicationID = applicationID
        self.template = template
        self.operationType = operationType
        self.parameters = parameters
        self.data = data
        self.status = status
        self.failureCount = failureCount
        self.maxFailureCount = maxFailureCount
        self.signatureTypes = signatureTypes
        self.externalID = externalID
        self.statusReason = statusReason
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.updatedAt = updatedAt
    }

    /// The status the outside world sees at `now`: a PENDING approval past its expiry is EXPIRED,
    /// even before anything rewrote the row.
    public func status(at now: Date) -> Status {
        status == .pending && expiresAt <= now ? .expired : status
    }

    /// Shine's statuses for an action request: PENDING (also once `expiresAt` has passed —
    /// Shine's API documentation has clients check it), CONFIRMED, REJECTED; the engine's other end states read
    /// REJECTED.
    public static func shineStatus(_ status: Status) -> String {
        switch status {
        case .pending, .expired: "PENDING"
        case .approved: "CONFIRMED"
        case .rejected, .canceled, .failed: "REJECTED"
        }
    }
}

/// An approval as a device's pending list shows it: what the screen says and what the device
/// signs (`id` and `data`, `ApprovalService.approvalMessage`), without the integrator's bookkeeping
/// (parameters, failure counts, callback and client). The list reads only these columns: a full
/// `Approval` per row cost ~45 % of the list's CPU (docs/benchmarks.md, eighth pass).
public struct ApprovalSummary: Sendable, Equatable {
    public var id: String
    public var kind: Approval.Kind
    public var operationType: String
    public var data: String
    public var status: Approval.Status
    public var createdAt: Date
    public var expiresAt: Date
    public var title: String?
    public var message: String?

    public init(
        id: String, kind: Approval.Kind, operationType: String, data: String, status: Approval.Status, createdAt: Date, expiresAt: Date,
        title: String?, message: String?
    ) {
        self.id = id
        self.kind = kind
        self.operationType = operationType
        self.data = data
        self.status = status
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.title = title
        self.message = message
    }

    /// The summary of a whole approval.
    public init(_ approval: Approval) {
        self.init(
            id: approval.id, kind: approval.kind, operationType: approval.operationType, data: approval.data, status: approval.status,
            createdAt: approval.createdAt, expiresAt: approval.expiresAt, title: approval.title, message: approval.message)
    }
}

/// How an application's operations of one template look (PowerAuth "operation templates").
public struct OperationTemplate: Sendable, Equatable {
    public var applicationID: String
    /// E.g. `default.payment`.
    public var name: String
    /// E.g. `payment`, `login`.
    public var operationType: String
    /// The operation data with `${parameter}` placeholders, e.g. `A1*A${amount}${currency}*I${account}`.
    public var dataTemplate: String
    public var expiration: TimeInterval
    public var maxFailureCount: Int
    public var signatureTypes: [String]
    /// The mobile token screen's title and message, with the same `${parameter}` placeholders.
    public var title: String
    public var message: String

    public init(
        applicationID: String, name: String, operationType: String, dataTemplate: String, expiration: TimeInterval, maxFailureCount: Int,
        signatureTypes: [String], title: String = "", message: String = ""
    ) {
        self.title = title
        self.message = message
        self.applicationID = applicationID
        self.name = name
        self.operationType = operationType
        self.dataTemplate = dataTemplate
        self.expiration = expiration
        self.maxFailureCount = maxFailureCount
        self.signatureTypes = signatureTypes
    }

    /// The templates every new application starts with (PowerAuth Cloud's defaults).
    public static func defaults(applicationID: String) -> [OperationTemplate] {
        [
            OperationTemplate(
                applicationID: applicationID, name: "default.payment", operationType: "payment",
                dataTemplate: "A1*A${amount}${currency}*I${account}", expiration: 300, maxFailureCount: 5,
                signatureTypes: ["possession_knowledge", "possession_biometry"], title: "Payment approval",
                message: "Please confirm the payment of ${amount} ${currency} to the account ${account}."),
            OperationTemplate(
                applicationID: applicationID, name: "default.login", operationType: "login", dataTemplate: "A2", expiration: 300,
                maxFailureCount: 5, signatureTypes: ["possession_knowledge", "possession_biometry"], title: "Login approval",
                message: "Please confirm the login request."),
        ]
    }

    /// The operation data for `parameters`: every `${name}` replaced. Values may not contain the
    /// field separator `*` or line breaks (they would change what the device shows); every
    /// placeholder needs a value.
    public func render(_ parameters: [String: String]) throws -> String {
        try Self.fill(dataTemplate, with: parameters, template: name)
    }

    /// The title and message for `parameters` (placeholders without a value stay as they are:
    /// the text is shown, never signed).
    public func screen(_ parameters: [String: String]) -> (title: String, message: String) {
        (
            (try? Self.fill(title, with: parameters, template: name, strict: false)) ?? title,
            (try? Self.fill(message, with: parameters, template: name, strict: false)) ?? message
        )
    }

    static func fill(_ text: String, with parameters: [String: String], template name: String, strict: Bool = true) throws -> String {
        for (name, value) in parameters {
            guard (1...64).contains(name.utf8.count), value.utf8.count <= 256, !containsStarOrLineBreak(value) else {
                throw ApprovalError.validation(field: "parameters.\(name.prefix(64))", message: "at most 256 characters, no '*' or line breaks")
            }
        }
        // Placeholders are the ASCII `${` … `}`, found in the UTF-8 bytes (a cut next to an ASCII
        // byte is always between whole characters).
        let bytes = Array(text.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + 64)
        var index = 0
        while let start = placeholderStart(in: bytes, from: index) {
            output.append(contentsOf: bytes[index..<start])
            guard let end = bytes[(start + 2)...].firstIndex(of: UInt8(ascii: "}")) else {
                index = start
                break
            }
            let placeholder = String(decoding: bytes[(start + 2)..<end], as: UTF8.self)
            if let value = parameters[placeholder] {
                output.append(contentsOf: value.utf8)
            } else if strict {
                throw ApprovalError.validation(field: "parameters.\(placeholder)", message: "the template \(name) needs it")
            } else {
                output.append(contentsOf: bytes[start...end])
            }
            index = end + 1
        }
        output.append(contentsOf: bytes[index...])
        return String(decoding: output, as: UTF8.self)
    }

    /// Where the next `${` begins at or after `index`.
    private static func placeholderStart(in bytes: [UInt8], from index: Int) -> Int? {
        var position = index
        while position + 1 < bytes.count {
            if bytes[position] == UInt8(ascii: "$"), bytes[position + 1] == UInt8(ascii: "{") { return position }
            position += 1
        }
        return nil
    }

    /// Whether a parameter's value holds the data format's separator `*` or a line break (LF, VT,
    /// FF, CR, NEL, LS, PS — each its own character, so a scalar test finds exactly the line
    /// breaks a character test finds, and every `*`, even one a combining mark follows).
    static func containsStarOrLineBreak(_ value: String) -> Bool {
        value.unicodeScalars.contains { scalar in
            switch scalar.value {
            case 0x2A, 0x0A...0x0D, 0x85, 0x2028, 0x2029: true
            default: false
            }
        }
    }
}

/// Why an approval request was refused.
public enum ApprovalError: Error, Equatable, Sendable {
    case validation(field: String, message: String)
    case templateNotFound
    case notFound
    /// Not PENDING (or expired): the change is not possible.
    case state(Approval.Status)
    /// The device signed other data than the approval's (dynamic linking); counted.
    case dataMismatch(remainingAttempts: Int)
}
