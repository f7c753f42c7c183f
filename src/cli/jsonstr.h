/* JSON strings with their length, for text that may hold U+0000: cJSON
 * decodes "a\u0000b" into a C string that ends at the NUL. (Writing them is
 * outbuf's ob_json_string.) The readers walk JSON that cJSON has already accepted (parse
 * the text with cJSON first), so they check little themselves. */
#ifndef MLM_CLI_JSONSTR_H
#define MLM_CLI_JSONSTR_H

#include <stddef.h>

/* The top-level JSON string `json` (as cJSON_IsString found it), decoded
 * into *out (malloc'ed, NUL-terminated; *len its length, U+0000 counted).
 * 0, or -1 when out of memory or on an escape cJSON would have refused. */
int jsonstr_value(const char *json, char **out, size_t *len);

/* The string value of member `key` of the top-level JSON object `json`,
 * decoded likewise (the first member of that name, as cJSON finds it).
 * 1 when found as a string, 0 when absent or not a string, -1 as above. */
int jsonstr_member(const char *json, const char *key, char **out, size_t *len);

#endif
