import StrongAuthCore

extension ProblemDetails {
    /// The problem+json faces' answer to a refusal of the approval engine; `what` names the
    /// thing in the face's words ("action request", "approval").
    static func approval(_ error: ApprovalError, what: String) -> ProblemDetails {
        switch error {
        case .validation(let field, let message):
            .badRequest("\(field): \(message)", errors: [.init(field: field, message: message)])
        case .notFound, .templateNotFound:
            ProblemDetails(.notFound, "Not Found", detail: "No such \(what).")
        case .state(let status):
            ProblemDetails(.conflict, "Conflict", detail: "The \(what) is \(status.rawValue).")
        case .dataMismatch(let remaining):
            ProblemDetails(
                .forbidden, "Forbidden", detail: "The signature or the data does not match the \(what); \(remaining) attempts left.")
        }
    }
}
