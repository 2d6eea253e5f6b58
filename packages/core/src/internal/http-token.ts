/**
 * An RFC 9110 token: what header field names and W3C baggage keys are made of. The one
 * definition every option and rule validator uses.
 */
export const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
