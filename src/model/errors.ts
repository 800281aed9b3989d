/**
 * Every error Ballast returns through an API carries a stable AWS error code and the HTTP status
 * that code has on the wire. One base class; the table in `AWS_ERRORS` is the single source of
 * the codes, statuses and fault types, and is tested row by row.
 */
export type FaultType = "Sender" | "Receiver";

interface ErrorSpec {
  readonly status: number;
  readonly type: FaultType;
}

export const AWS_ERRORS = {
  // Common errors of every AWS Query service.
  MissingAuthenticationToken: { status: 403, type: "Sender" },
  IncompleteSignature: { status: 403, type: "Sender" },
  InvalidClientTokenId: { status: 403, type: "Sender" },
  SignatureDoesNotMatch: { status: 403, type: "Sender" },
  AccessDenied: { status: 403, type: "Sender" },
  RequestExpired: { status: 400, type: "Sender" },
  InvalidAction: { status: 400, type: "Sender" },
  MissingAction: { status: 400, type: "Sender" },
  MissingParameter: { status: 400, type: "Sender" },
  InvalidParameterValue: { status: 400, type: "Sender" },
  InvalidParameterCombination: { status: 400, type: "Sender" },
  InvalidQueryParameter: { status: 400, type: "Sender" },
  MalformedQueryString: { status: 404, type: "Sender" },
  ValidationError: { status: 400, type: "Sender" },
  Throttling: { status: 400, type: "Sender" },
  /** Requests Node's HTTP parser refuses before routing (see api/aws-query/client-error.ts). */
  BadRequest: { status: 400, type: "Sender" },
  RequestHeaderSectionTooLarge: { status: 431, type: "Sender" },
  InternalFailure: { status: 500, type: "Receiver" },
  ServiceUnavailable: { status: 503, type: "Receiver" },
  RequestEntityTooLarge: { status: 413, type: "Sender" },
  // Elastic Load Balancing 2012-06-01: the wire codes from the service model's awsQueryError traits.
  LoadBalancerNotFound: { status: 400, type: "Sender" },
  DuplicateLoadBalancerName: { status: 400, type: "Sender" },
  TooManyLoadBalancers: { status: 400, type: "Sender" },
  InvalidInstance: { status: 400, type: "Sender" },
  InvalidConfigurationRequest: { status: 409, type: "Sender" },
  DuplicateListener: { status: 400, type: "Sender" },
  ListenerNotFound: { status: 400, type: "Sender" },
  CertificateNotFound: { status: 400, type: "Sender" },
  UnsupportedProtocol: { status: 400, type: "Sender" },
  InvalidScheme: { status: 400, type: "Sender" },
  InvalidSubnet: { status: 400, type: "Sender" },
  SubnetNotFound: { status: 400, type: "Sender" },
  InvalidSecurityGroup: { status: 400, type: "Sender" },
  TooManyTags: { status: 400, type: "Sender" },
  DuplicateTagKeys: { status: 400, type: "Sender" },
  OperationNotPermitted: { status: 400, type: "Sender" },
  DependencyThrottle: { status: 400, type: "Sender" },
  PolicyNotFound: { status: 400, type: "Sender" },
  PolicyTypeNotFound: { status: 400, type: "Sender" },
  DuplicatePolicyName: { status: 400, type: "Sender" },
  TooManyPolicies: { status: 400, type: "Sender" },
  LoadBalancerAttributeNotFound: { status: 400, type: "Sender" },
  // IAM UploadServerCertificate's codes, for the admin API's certificate upload.
  MalformedCertificate: { status: 400, type: "Sender" },
  KeyPairMismatch: { status: 400, type: "Sender" },
  // IAM's, for principals, access keys and policies (admin API).
  MalformedPolicyDocument: { status: 400, type: "Sender" },
  NoSuchEntity: { status: 404, type: "Sender" },
  EntityAlreadyExists: { status: 409, type: "Sender" },
  DeleteConflict: { status: 409, type: "Sender" },
  // Ballast's own (admin API, journal).
  RevisionConflict: { status: 409, type: "Sender" },
  NotFound: { status: 404, type: "Sender" },
  // Change tickets (model/ticket.ts): a maintenance call without a usable ticket, a ticket that
  // does not cover the call, a decision on a ticket no longer pending.
  ChangeTicketRequired: { status: 403, type: "Sender" },
  InvalidChangeTicket: { status: 403, type: "Sender" },
  ChangeTicketConflict: { status: 409, type: "Sender" },
} as const satisfies Record<string, ErrorSpec>;

export type AwsErrorCode = keyof typeof AWS_ERRORS;

export class BallastError extends Error {
  readonly #code: AwsErrorCode;

  constructor(code: AwsErrorCode, message: string) {
    super(message);
    this.name = "BallastError";
    this.#code = code;
  }

  get code(): AwsErrorCode {
    return this.#code;
  }

  get status(): number {
    return AWS_ERRORS[this.#code].status;
  }

  get faultType(): FaultType {
    return AWS_ERRORS[this.#code].type;
  }
}

export function isBallastError(e: unknown): e is BallastError {
  return e instanceof BallastError;
}
