// SageMaker runtime's own checks of an InvokeEndpoint request, before anything reaches the model: the API
// model's constraints on its fields first (all of them reported at once, as AWS does), then whether the
// endpoint and the variant exist, then the payload limit.

import {
  constraintViolations,
  type EndpointContext,
  type SageMakerErrorReply,
  sageMakerError,
} from './sagemaker-errors.js';

/** InvokeEndpoint's payload limit: 6 MB. */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

/** The API model's pattern of EndpointName and TargetVariant, as its messages quote it; matched whole. */
export const NAME_PATTERN = '^[a-zA-Z0-9](-*[a-zA-Z0-9])*';
const NAME = new RegExp(`${NAME_PATTERN}$`);
export const MAX_NAME_LENGTH = 63;
export const MAX_CUSTOM_ATTRIBUTES_LENGTH = 1024;

export interface InvokeRequest {
  where: EndpointContext;
  /** X-Amzn-SageMaker-Custom-Attributes, if sent. */
  customAttributes: string | undefined;
  /** X-Amzn-SageMaker-Target-Variant, if sent. */
  targetVariant: string | undefined;
  /** null when longer than MAX_PAYLOAD_BYTES. */
  body: Buffer | null;
  bytes: number;
  requestId: string;
}

export interface EndpointSetup {
  /** Endpoint names that exist; null: any (valid) name. */
  endpoints: ReadonlySet<string> | null;
  /** The endpoint's one production variant. */
  variantName: string;
}

/** SageMaker's refusal of the request, or null when it goes on to the model. */
export function checkInvoke(request: InvokeRequest, setup: EndpointSetup): SageMakerErrorReply | null {
  const { where, customAttributes, targetVariant } = request;
  const violations = [...nameViolations('endpointName', where.endpointName)];
  if (customAttributes !== undefined && customAttributes.length > MAX_CUSTOM_ATTRIBUTES_LENGTH) {
    violations.push(tooLong('customAttributes', customAttributes, MAX_CUSTOM_ATTRIBUTES_LENGTH));
  }
  if (targetVariant !== undefined) violations.push(...nameViolations('targetVariant', targetVariant));
  if (request.bytes === 0) violations.push("Value at 'body' failed to satisfy constraint: Member must not be null");
  if (violations.length > 0) return constraintViolations(violations);

  if (setup.endpoints && !setup.endpoints.has(where.endpointName)) {
    return sageMakerError('ValidationError', `Endpoint ${where.endpointName} of account ${where.accountId} not found.`);
  }
  if (targetVariant !== undefined && targetVariant !== setup.variantName) {
    const message =
      `The variant ${targetVariant} is not a production variant of endpoint ${where.endpointName} (it ` +
      `has ${setup.variantName}).`;
    return sageMakerError('ValidationError', message);
  }
  if (request.body === null)
    return sageMakerError('ValidationError', `Request ${request.requestId} has oversize body.`);
  return null;
}

function nameViolations(field: string, value: string): string[] {
  const found: string[] = [];
  if (value.length > MAX_NAME_LENGTH) found.push(tooLong(field, value, MAX_NAME_LENGTH));
  if (!NAME.test(value))
    found.push(violation(field, value, `Member must satisfy regular expression pattern: ${NAME_PATTERN}`));
  return found;
}

const tooLong = (field: string, value: string, max: number): string =>
  violation(field, value, `Member must have length less than or equal to ${max}`);

const violation = (field: string, value: string, constraint: string): string =>
  `Value '${value}' at '${field}' failed to satisfy constraint: ${constraint}`;
