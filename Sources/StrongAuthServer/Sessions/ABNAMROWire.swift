import StrongAuthCore

/// The ABN AMRO face's answers as the API shapes them (docs/sessions.md), each written by
/// `JSONResponse` (its byte-level writer, checked against Foundation in debug builds). Fields the
/// API documents as `null` are written as `null`, not left out.
enum ABNAMROWire {
    /// `{"<name>": value}`: every answer of the face is one named object.
    struct Envelope<Value: Encodable>: Encodable {
        let name: String
        let value: Value

        init(_ name: String, _ value: Value) {
            self.name = name
            self.value = value
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: NamedKey.self)
            try container.encode(value, forKey: NamedKey(stringValue: name))
        }
    }

    struct NamedKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// The `loginChallenge` object (and `scenarioChallenge`, with the scenario's name and hash);
    /// the `eig…` fields explicitly null.
    struct Challenge: Encodable {
        let issued: IssuedChallenge
        var withScenario = false

        init(_ issued: IssuedChallenge, withScenario: Bool = false) {
            self.issued = issued
            self.withScenario = withScenario
        }

        enum CodingKeys: String, CodingKey {
            case userId, attemptsLeft, challenge, challengeHandle, challengeDeviceDetails
            case eigChallenge, eigChallengeHandle, eigChallengeDeviceDetails, eigType
            case scenarioName, scenarioHash
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(issued.userID, forKey: .userId)
            try container.encode(issued.attemptsLeft, forKey: .attemptsLeft)
            try container.encode(issued.challenge, forKey: .challenge)
            try container.encode(issued.challengeHandle, forKey: .challengeHandle)
            try container.encode(issued.challengeDeviceDetails, forKey: .challengeDeviceDetails)
            for key in [CodingKeys.eigChallenge, .eigChallengeHandle, .eigChallengeDeviceDetails, .eigType] {
                try container.encodeNil(forKey: key)
            }
            if withScenario {
                try container.encodeIfPresent(issued.scenarioName, forKey: .scenarioName)
                try container.encodeIfPresent(issued.scenarioHash, forKey: .scenarioHash)
            }
        }
    }

    /// The `session` object of an authorized session; `selectedCustomer` is always null.
    struct Session: Encodable {
        let view: SessionView

        init(_ view: SessionView) { self.view = view }

        struct Representative: Encodable {
            let `class`: String
            let reference: String
        }

        enum CodingKeys: String, CodingKey {
            case lastLogonDate, deviceType, connectionType, selectedCustomer, representative, representedCustomer
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(view.lastLogonDate.epochMilliseconds, forKey: .lastLogonDate)
            try container.encode(view.accessToolUsage.rawValue, forKey: .deviceType)
            try container.encode("ENDTOEND", forKey: .connectionType)
            try container.encodeNil(forKey: .selectedCustomer)
            try container.encode(Representative(class: "PRIVATE_CUSTOMER", reference: view.customerReference), forKey: .representative)
            try container.encode(view.customerReference, forKey: .representedCustomer)
        }
    }

    /// `GET /session`'s `session`: the last logon only.
    struct SessionSummary: Encodable {
        let lastLogonDate: Int64
    }

    /// The `scenarioSigningMethod` object; `boundDeviceIndexNumber` is null for the soft token.
    struct SigningMethod: Encodable {
        let scenarioName: String
        let accessToolUsage: String
        let challengeDeviceDetails: String
        let attemptsLeft: Int
        let boundDeviceIndexNumber: Int?

        enum CodingKeys: String, CodingKey {
            case scenarioName, accessToolUsage, challengeDeviceDetails, attemptsLeft, boundDeviceIndexNumber
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(scenarioName, forKey: .scenarioName)
            try container.encode(accessToolUsage, forKey: .accessToolUsage)
            try container.encode(challengeDeviceDetails, forKey: .challengeDeviceDetails)
            try container.encode(attemptsLeft, forKey: .attemptsLeft)
            if let boundDeviceIndexNumber {
                try container.encode(boundDeviceIndexNumber, forKey: .boundDeviceIndexNumber)
            } else {
                try container.encodeNil(forKey: .boundDeviceIndexNumber)
            }
        }
    }

    /// The `scenarioResponse` object.
    struct SignedScenario: Encodable {
        let scenarioName: String
        let scenarioHash: String
        let status: String
        let signedDate: Int64
    }
}
