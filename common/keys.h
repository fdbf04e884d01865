/*  keys — where kernelmq's CURVE keys live, and how a socket uses them.

    One config directory per user, readable by its owner only (0700):

        $KMQ_CONFIG_DIR, else $XDG_CONFIG_HOME/kernelmq, else ~/.config/kernelmq
          broker.key, broker.key_secret   the broker's certificate (czmq zcert
                                          files: NAME public, NAME_secret both)
          client.key, client.key_secret   this user's client certificate
          host.key, host.key_secret       this machine's kernel host certificate
          gateway.key, gateway.key_secret kmq-http's certificate
          clients/   public certificates of the client keys the broker allows
          hosts/     public certificates of the kernel host keys it allows
          gateways/  client keys allowed to act for another key (kmq-http)

    A broker creates its own certificate, its owner's client, host and
    gateway certificates and allows each on first start (keys_broker_init). A
    client or a kernel host finds the broker's public key and its own
    certificate there with no flags (keys_apply); KMQ_BROKER_KEY (a z85
    key or a certificate file) and KMQ_CLIENT_KEY (a secret certificate
    file) override them.

    CURVE is for tcp:// only. ipc:// endpoints rely on the permissions of
    the runtime directory (0700), and inproc never leaves the process.
    An identity is the z85 text of a CURVE public key (40 characters);
    every peer that comes without CURVE (ipc, --insecure) is KEYS_LOCAL.
*/
#ifndef KMQ_KEYS_H
#define KMQ_KEYS_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>

#define KEYS_LOCAL      "local"     //  the identity of every peer without CURVE
#define KEYS_Z85_LEN    40          //  a public key as z85 text

//  The default config directory (see above); caller frees. NULL when none
//  of KMQ_CONFIG_DIR, XDG_CONFIG_HOME and HOME is set.
char *keys_dir_default (void);

//  Makes dir (and a missing parent) 0700 when missing; one that exists must
//  be a directory of ours that group and others cannot enter. Returns 0, or
//  -1 with error filled.
int keys_dir_ensure (const char *dir, char *error, size_t error_size);

//  True when endpoint is one CURVE protects (tcp://).
bool keys_endpoint_needs_curve (const char *endpoint);

//  True when text is a z85 public key: 40 characters of the z85 alphabet.
bool keys_is_identity (const char *text);

//  The public key (z85) in a certificate file (public or secret), or in
//  text itself when it is a z85 key. Caller frees; NULL when neither.
char *keys_public_from (const char *text_or_path);

//  Loads dir/NAME.key_secret, or creates and saves a fresh certificate
//  there (NAME.key beside it, both 0600) when missing (*created then
//  true). Returns NULL with error filled.
zcert_t *keys_cert_ensure (const char *dir, const char *name, bool *created,
                           char *error, size_t error_size);

//  Saves public key identity as dir/SUB/LABEL.key (SUB is clients, hosts or
//  gateways; LABEL a file name without /). Returns 0, or -1 with error.
int keys_allow (const char *dir, const char *sub, const char *label,
                const char *identity, char *error, size_t error_size);

//  A broker's first start on dir: its certificate, its owner's client and
//  host certificates, each allowed. Returns the broker's certificate, or
//  NULL with error filled. Logs (zsys_info) what it created.
zcert_t *keys_broker_init (const char *dir, char *error, size_t error_size);

//  Makes sock (a zsock_t or a libzmq socket) a CURVE client of the broker when endpoint needs it (and
//  KMQ_INSECURE is not set to a true word): the broker's public key from
//  KMQ_BROKER_KEY or dir/broker.key, our certificate from KMQ_CLIENT_KEY or
//  dir/NAME.key_secret (name "client", "host" or "gateway"; KMQ_HOST_KEY
//  and KMQ_GATEWAY_KEY override the last two). dir NULL is
//  keys_dir_default (). With no broker key found, the socket stays plain
//  and *note says so (for the caller's timeout message; static text).
//  Returns 0, or -1 with error filled (our key is missing or unreadable:
//  it is never made here, see keys_cert_ensure).
int keys_apply (void *sock, const char *endpoint, const char *dir, const char *name,
                const char **note, char *error, size_t error_size);

//  Selftest.
void keys_test (bool verbose);

#endif
