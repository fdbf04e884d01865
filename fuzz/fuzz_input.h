/*  fuzz_input — what the fuzz harnesses (fuzz/NAME.c) and the seed
    generator (fuzz/seeds.c) agree on: the fixed secrets a harness checks
    against, and how one fuzzer input becomes several frames (a kernelmq
    message, or frames split at a separator).

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

//  A kernelmq multipart from an input [shape] [size] [header bytes ...],
//  so that mutations work on the header and frame counts around each limit
//  are a few bits away:
//      shape bits 0-4  how many payload frames: 0 to 3, or in 4 values of
//                      32 one either side of a limit (64 and 4096; big
//                      ones are slow, so rare)
//      shape bits 5-6  frame 0: "KMQ1", "KMQ2", "KMQ", or no frames at all
//      shape bit 7     no header frame (frame 0 alone)
//      size            bytes of payload 0 (a cursor_pos is checked
//                      against it); the other payloads are empty
//  NULL when size is under 2. Caller owns it.
zmsg_t *fuzz_input_message (const uint8_t *data, size_t size);

//  The shape byte of a message with payloads payload frames and a good
//  frame 0 (the nearest count for one not in the list).
uint8_t fuzz_input_shape (size_t payloads);

//  The size bytes at data as frames split at every FUZZ_INPUT_SEPARATOR:
//  n separators make n + 1 frames, empty ones included. Caller owns it.
zmsg_t *fuzz_input_split (const uint8_t *data, size_t size);

//  The inverse, for the seed generator: msg's frames joined by separators,
//  appended to out. False (out unchanged) when a frame holds the
//  separator, which the split would cut.
bool fuzz_input_join (zmsg_t *msg, zchunk_t *out);

#endif
