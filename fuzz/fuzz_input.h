/*  fuzz_input — what the fuzz harnesses (fuzz/NAME.c) and the seed
    generator (fuzz/seeds.c) agree on: the fixed secrets a harness checks
    against, and how one fuzzer input becomes several frames.

    Not part of any binary but the harnesses and the generator.
*/
#ifndef KMQ_FUZZ_INPUT_H
#define KMQ_FUZZ_INPUT_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  The HMAC key of the Jupyter harness's keyed signer.
#define FUZZ_INPUT_JUPYTER_KEY  "fuzz-key"
//  The sandbox settings the zygote harness's zygote runs with (the shape
//  kernel_contract_fingerprint writes; its value does not matter).
#define FUZZ_INPUT_FINGERPRINT  "memory-limit=268435456,cpu-limit-s=30,fuzz=1"
//  Separates frames in a split input: 0xff is never in UTF-8, so never in
//  JSON text, and a mutation that drops or adds one changes the framing.
#define FUZZ_INPUT_SEPARATOR    0xff

//  The size bytes at data as frames split at every FUZZ_INPUT_SEPARATOR:
//  n separators make n + 1 frames, empty ones included. Caller owns it.
zmsg_t *fuzz_input_split (const uint8_t *data, size_t size);

//  The inverse, for the seed generator: msg's frames joined by separators,
//  appended to out. False (out unchanged) when a frame holds the
//  separator, which the split would cut.
bool fuzz_input_join (zmsg_t *msg, zchunk_t *out);

#endif
