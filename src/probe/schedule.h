/* When, within a round, each probe of a target leaves.
 *
 * A round of span_us holds probes_per_round slots per target. Probe j
 * leaves at phase + j * slot + jitter, where the phase (in [0, slot)) is
 * a hash of the phase key and the target, so that the targets of one host
 * and the hosts of a fleet (each with its own key, e.g. a hash of its
 * name) do not all probe at the same instant, and the jitter (within
 * ±10% of a slot) is a hash of the same plus the round and j, so that two
 * links that share a phase by chance do not stay in step. Pure functions:
 * the same inputs always give the same schedule. */
#pragma once

#include <stdint.h>

#include "probe/probe_target.h"

/* A 64-bit hash of the key and every field of the target. */
uint64_t nd_probe_target_hash(uint64_t key, const struct nd_probe_target *t);

/* The phase of a target in [0, slot_us); 0 when slot_us is 0. */
uint64_t nd_probe_phase(uint64_t target_hash, uint64_t slot_us);

/* The offset from the round's start at which probe j (of probes) of the
 * target leaves, in [0, span_us). */
uint64_t nd_probe_offset(uint64_t target_hash, uint64_t round, unsigned j, unsigned probes, uint64_t span_us);
