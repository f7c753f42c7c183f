/* A host application built against an installed libmlm (see
 * .ci/consumer-test): compiled as C and as C++, linked shared and static. */
#include <mlm.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    if (mlm_version_number() != MLM_VERSION_NUMBER) {
        fprintf(stderr, "header %s but library %s\n", MLM_VERSION_STRING, mlm_version());
        return 1;
    }
    if (strcmp(mlm_status_string(MLM_ERR_FORMAT), "malformed input") != 0)
        return 1;
    mlm_clear_error();
    if (mlm_last_error()[0] != '\0')
        return 1;
    printf("libmlm %s: %s\n", mlm_version(), mlm_system_info());
    return 0;
}
