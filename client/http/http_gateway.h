/*  http_gateway — kmq-http: HTTP clients in, one kernelmq client out.

    One thread polls the broker's socket (libkmq's kmq_async), the HTTP
    server's epoll fd (http_server.h says why that shape) and the signal
    pipe. Every HTTP request becomes zero or more kernelmq requests whose
    ids map back to it; their events and replies become its answer. A
    client that goes away leaves its kernelmq request to finish unheard.

        http_gateway_config_t config = { ... };      see kmq-http --help
        http_gateway_t *gateway = http_gateway_new (&config, error, sizeof error);
        int status = http_gateway_run (gateway);     until SIGTERM/SIGINT
        http_gateway_destroy (&gateway);
*/
#ifndef HTTP_GATEWAY_H
#define HTTP_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "http_server.h"

typedef struct _http_gateway_t http_gateway_t;

typedef enum {
    HTTP_COMPAT_NONE,
    HTTP_COMPAT_DF_DICT,            //  /uploadfile/{name}, /files/, ... (global df_dict)
    HTTP_COMPAT_CODE_SANDBOX        //  /execute_code with input_data, /upload_data/{key}, ...
} http_compat_t;

typedef struct {
    const char *endpoint;           //  the broker, tcp://127.0.0.1:5555
    http_server_config_t server;    //  listen address and limits
    const char *listen;             //  as given, for logs
    bool auth;                      //  bearer tokens required
    const char *token_file;         //  NULL: http_token_default_path ()
    http_compat_t compat;
    const char *compat_session;     //  the session compat routes use, or
                                    //  "per-token": one per token
    bool verbose;
} http_gateway_config_t;

//  Loads (or makes) the token file, connects to the broker (without
//  waiting for it) and listens. NULL with error filled on failure.
http_gateway_t *http_gateway_new (const http_gateway_config_t *config,
                                  char *error, size_t error_size);
void http_gateway_destroy (http_gateway_t **self_p);
//  Serves until SIGTERM or SIGINT; returns the exit status (0).
int http_gateway_run (http_gateway_t *self);

//  Prints the routes mode serves, one "METHOD PATTERN" a line (all modes'
//  with HTTP_COMPAT_NONE and all set: see kmq-http --routes).
void http_gateway_print_routes (http_compat_t mode, bool all, FILE *out);

void http_gateway_test (bool verbose);

#endif
