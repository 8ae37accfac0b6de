// S3 errors: the code, HTTP status and message a client sees, and the mapping from FerryFS's errno errors.
import { FsError } from '../errors.js';

export class S3Error extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    /** Extra elements of the error document (e.g. BucketName, Key). */
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'S3Error';
  }
}

const CATALOG: Record<string, [number, string]> = {
  AccessDenied: [403, 'Access Denied'],
  AccessForbidden: [403, 'CORSResponse: This CORS request is not allowed.'],
  AccessControlListNotSupported: [400, 'The bucket does not allow ACLs.'],
  AuthorizationHeaderMalformed: [400, 'The authorization header is malformed.'],
  AuthorizationQueryParametersError: [400, 'Query-string authentication parameters are malformed.'],
  BadRequest: [400, 'Bad Request'],
  BadDigest: [400, 'The Content-MD5 or checksum you specified did not match what was received.'],
  BucketAlreadyExists: [409, 'The requested bucket name is not available.'],
  BucketAlreadyOwnedByYou: [409, 'Your previous request to create the named bucket succeeded and you already own it.'],
  BucketNotEmpty: [409, 'The bucket you tried to delete is not empty.'],
  ConditionalRequestConflict: [409, 'A conflicting operation occurred; fetch the object\'s ETag and retry the request.'],
  EntityTooLarge: [400, 'Your proposed upload exceeds the maximum allowed object size.'],
  ExpectationFailed: [417, 'Only the expectation 100-continue is supported.'],
  EntityTooSmall: [400, 'Your proposed upload is smaller than the minimum allowed object size.'],
  IncompleteBody: [400, 'You did not provide the number of bytes specified by the Content-Length HTTP header.'],
  InternalError: [500, 'We encountered an internal error. Please try again.'],
  InvalidAccessKeyId: [403, 'The AWS Access Key Id you provided does not exist in our records.'],
  InvalidArgument: [400, 'Invalid Argument'],
  InvalidBucketName: [400, 'The specified bucket is not valid.'],
  InvalidDigest: [400, 'The Content-MD5 you specified is not valid.'],
  InvalidPolicyDocument: [400, 'The content of the form does not meet the conditions specified in the policy document.'],
  InvalidPart: [400, 'One or more of the specified parts could not be found, or its entity tag did not match.'],
  InvalidPartNumber: [416, 'The requested partnumber is not satisfiable'],
  InvalidPartOrder: [400, 'The list of parts was not in ascending order.'],
  InvalidRange: [416, 'The requested range is not satisfiable'],
  InvalidRequest: [400, 'Invalid Request'],
  InvalidTag: [400, 'The tag provided was not a valid tag.'],
  KeyTooLongError: [400, 'Your key is too long.'],
  MalformedACLError: [400, 'The XML you provided was not well-formed or did not validate against our published schema.'],
  MalformedXML: [400, 'The XML you provided was not well-formed or did not validate against our published schema.'],
  MalformedPOSTRequest: [400, 'The body of your POST request is not well-formed multipart/form-data.'],
  MaxPostPreDataLengthExceededError: [400, 'Your POST request fields preceding the upload file were too large.'],
  MetadataTooLarge: [400, 'Your metadata headers exceed the maximum allowed metadata size.'],
  MethodNotAllowed: [405, 'The specified method is not allowed against this resource.'],
  MissingContentLength: [411, 'You must provide the Content-Length HTTP header.'],
  MissingSecurityHeader: [400, 'Your request is missing a required header.'],
  NoSuchBucket: [404, 'The specified bucket does not exist.'],
  NoSuchCORSConfiguration: [404, 'The CORS configuration does not exist'],
  NoSuchKey: [404, 'The specified key does not exist.'],
  NoSuchTagSet: [404, 'The TagSet does not exist'],
  NoSuchVersion: [404, 'The specified version does not exist.'],
  NoSuchLifecycleConfiguration: [404, 'The lifecycle configuration does not exist'],
  NoSuchUpload: [404, 'The specified multipart upload does not exist.'],
  NotImplemented: [501, 'A header or operation you provided implies functionality that is not implemented.'],
  OperationAborted: [409, 'A conflicting conditional operation is currently in progress against this resource. Try again.'],
  PreconditionFailed: [412, 'At least one of the pre-conditions you specified did not hold.'],
  RequestHeaderSectionTooLarge: [400, 'Your request header section exceeds the maximum allowed size.'],
  RequestTimeout: [400, 'Your socket connection to the server was not read from or written to within the timeout period.'],
  RequestTimeTooSkewed: [403, 'The difference between the request time and the server time is too large.'],
  SignatureDoesNotMatch: [403, 'The request signature we calculated does not match the signature you provided.'],
  XAmzContentSHA256Mismatch: [400, "The provided 'x-amz-content-sha256' header does not match what was computed."],
  ServiceUnavailable: [503, 'The server is shutting down; please retry.'],
  // FerryFS-specific: a key that a file system cannot hold next to another one.
  XFerryObjectIsDirectory: [409, 'A directory (prefix with objects) exists under this name, so it cannot be an object.'],
  XFerryParentIsObject: [409, 'A part of the key before a "/" is an existing object, so it cannot be a directory.'],
  XFerryInvalidObjectName: [400, 'Keys cannot contain empty, "." or ".." segments or NUL bytes.'],
  XFerryStorageFull: [507, 'The volume is out of space or over its quota.'],
};

export function s3err(code: string, message?: string, extra?: Record<string, string>): S3Error {
  const [status, msg] = CATALOG[code] ?? [400, code];
  return new S3Error(code, status, message ?? msg, extra);
}

/** What an errno means for an object or bucket operation. */
export function fromFsError(e: FsError, what: 'key' | 'bucket' = 'key'): S3Error {
  switch (e.code) {
    case 'ENOENT':
      return s3err(what === 'bucket' ? 'NoSuchBucket' : 'NoSuchKey');
    case 'ENOTDIR':
      return s3err(what === 'bucket' ? 'NoSuchBucket' : 'NoSuchKey');
    case 'EACCES':
    case 'EPERM':
      return s3err('AccessDenied');
    case 'ENOTEMPTY':
      return s3err(what === 'bucket' ? 'BucketNotEmpty' : 'XFerryObjectIsDirectory');
    case 'EISDIR':
      return s3err('XFerryObjectIsDirectory');
    case 'ENAMETOOLONG':
      return s3err('KeyTooLongError');
    case 'EDQUOT':
    case 'ENOSPC':
      return s3err('XFerryStorageFull');
    case 'EROFS':
      // As S3 answers a write a policy forbids; the message names what is read-only (a `ferry readonly` path,
      // a read-only mirror or mount).
      return s3err('AccessDenied', e.description);
    case 'EINVAL':
      return s3err('InvalidArgument', e.description);
    case 'EFBIG':
      return s3err('EntityTooLarge');
    default:
      return s3err('InternalError');
  }
}
