/*  kernel_contract_internal — the table itself, shared by
    kernel_contract.c (argv, parser, usage, fingerprint) and
    kernel_contract_test.c (which walks every row); nothing else includes
    it. The public API is kernel_contract.h.
*/
#ifndef KMQ_KERNEL_CONTRACT_INTERNAL_H
#define KMQ_KERNEL_CONTRACT_INTERNAL_H

#include "kernel_contract.h"

typedef enum {
    KERNEL_CONTRACT_UINT,           //  uint64_t, decimal digits
    KERNEL_CONTRACT_SIZE,           //  uint64_t, digits with an optional K, M or G
    KERNEL_CONTRACT_STRING,         //  const char *, NULL when not given
    KERNEL_CONTRACT_FLAG            //  bool, a flag without a value
} kernel_contract_kind_t;

typedef struct {
    const char *name;               //  the flag without "--"
    char letter;                    //  a one-letter alias ("-v"), or 0
    kernel_contract_kind_t kind;
    size_t offset;                  //  of the field in kernel_settings_t
    const char *dflt;               //  numbers: the default as text; else NULL
    uint64_t min, max;              //  numbers only
    unsigned roles;                 //  the roles (bits) that take it
    unsigned required;              //  the roles that must be given it
    bool sandbox;                   //  part of the sandbox fingerprint
    //  Strings: checks a value; returns 0, or -1 with why filled.
    int (*check) (const char *value, char *why, size_t why_size);
    const char *value_name;         //  in the usage: URL, N, BYTES, ...
    const char *help;
} kernel_contract_row_t;

extern const kernel_contract_row_t kernel_contract_rows [];
extern const size_t kernel_contract_row_count;

#endif
