/*  http_compat — placeholder until the compat modes land.               */
#include "http_internal.h"

const http_op_t *
http_compat_ops (http_compat_t mode, size_t *count)
{
    (void) mode;
    *count = 0;
    return NULL;
}

const char *
http_compat_prelude (void)
{
    return "";
}
