import Foundation

extension PowerAuthECIES {
    /// The JSON body of an encrypted request (`EciesEncryptedRequest` of the reference): Base64
    /// strings, `timestamp` a number of milliseconds. Absent and `null` fields mean the same.
    public struct EncryptedRequestBody: Codable, Sendable, Equatable {
        public var temporaryKeyId: String?
        public var ephemeralPublicKey: String?
        public var encryptedData: String?
        public var mac: String?
        public var nonce: String?
        public var timestamp: UInt64?

        public init(
            temporaryKeyId: String? = nil, ephemeralPublicKey: String? = nil, encryptedData: String? = nil, mac: String? = nil,
            nonce: String? = nil, timestamp: UInt64? = nil
        ) {
            self.temporaryKeyId = temporaryKeyId
            self.ephemeralPublicKey = ephemeralPublicKey
            self.encryptedData = encryptedData
            self.mac = mac
            self.nonce = nonce
            self.timestamp = timestamp
        }

        /// The wire form of a request cryptogram.
        public init(_ cryptogram: Cryptogram) {
            self.init(
                temporaryKeyId: cryptogram.temporaryKeyID, ephemeralPublicKey: cryptogram.ephemeralPublicKey.map(PowerAuthBase64.encode),
                encryptedData: PowerAuthBase64.encode(cryptogram.encryptedData), mac: PowerAuthBase64.encode(cryptogram.mac),
                nonce: cryptogram.nonce.map(PowerAuthBase64.encode), timestamp: cryptogram.timestamp)
        }

        /// Decodes the Base64 fields (as `java.util.Base64` would); `encryptedData` and `mac` are
        /// required, the rest is checked against the version when decrypting.
        public func cryptogram() throws(PowerAuthECIESError) -> Cryptogram {
            guard let encryptedData, let mac else { throw .invalidRequest("encryptedData and mac are required") }
            return Cryptogram(
                temporaryKeyID: temporaryKeyId, ephemeralPublicKey: try decodeOptional(ephemeralPublicKey, field: "ephemeralPublicKey"),
                encryptedData: try decode(encryptedData, field: "encryptedData"), mac: try decode(mac, field: "mac"),
                nonce: try decodeOptional(nonce, field: "nonce"), timestamp: timestamp)
        }
    }

    /// The JSON body of an encrypted response (`EciesEncryptedResponse`); `nonce` and `timestamp`
    /// are present from 3.2 on and omitted before.
    public struct EncryptedResponseBody: Codable, Sendable, Equatable {
        public var encryptedData: String?
        public var mac: String?
        public var nonce: String?
        public var timestamp: UInt64?

        public init(encryptedData: String? = nil, mac: String? = nil, nonce: String? = nil, timestamp: UInt64? = nil) {
            self.encryptedData = encryptedData
            self.mac = mac
            self.nonce = nonce
            self.timestamp = timestamp
        }

        /// The wire form of a response cryptogram.
        public init(_ cryptogram: Cryptogram) {
            self.init(
                encryptedData: PowerAuthBase64.encode(cryptogram.encryptedData), mac: PowerAuthBase64.encode(cryptogram.mac),
                nonce: cryptogram.nonce.map(PowerAuthBase64.encode), timestamp: cryptogram.timestamp)
        }

        /// Decodes the Base64 fields; `encryptedData` and `mac` are required.
        public func cryptogram() throws(PowerAuthECIESError) -> Cryptogram {
            guard let encryptedData, let mac else { throw .invalidResponse("encryptedData and mac are required") }
            guard let data = PowerAuthBase64.decode(encryptedData), let macBytes = PowerAuthBase64.decode(mac) else {
                throw .invalidResponse("encryptedData and mac must be Base64")
            }
            var nonceBytes: [UInt8]?
            if let nonce {
                guard let decoded = PowerAuthBase64.decode(nonce) else { throw .invalidResponse("nonce must be Base64") }
                nonceBytes = decoded
            }
            return Cryptogram(encryptedData: data, mac: macBytes, nonce: nonceBytes, timestamp: timestamp)
        }
    }
}

private func decode(_ value: String, field: String) throws(PowerAuthECIESError) -> [UInt8] {
    guard let bytes = PowerAuthBase64.decode(value) else { throw .invalidRequest("\(field) must be Base64") }
    return bytes
}

private func decodeOptional(_ value: String?, field: String) throws(PowerAuthECIESError) -> [UInt8]? {
    guard let value else { return nil }
    return try decode(value, field: field)
}
