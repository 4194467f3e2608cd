/*
 * profile_id.h - profile ids as the API shows them: the distributor gives
 * every stored profile a random UUID (services/distributor/pipeline.c);
 * stores keep its 16 bytes (the profile key's id); exemplars name it and
 * drill-downs (profile_id_selector) select by it.
 */
#ifndef FX_PROFILE_ID_H
#define FX_PROFILE_ID_H

#include <stddef.h>
#include <stdint.h>

/* Length of a formatted id without the NUL. */
#define FX_PROFILE_ID_LEN 36

/* Parses the canonical UUID text form (8-4-4-4-12 hex digits, either case)
 * of s[0..n) into out. Returns 0, or -1 if s is anything else. */
int fx_profile_id_parse(const char *s, size_t n, uint8_t out[16]);

/* Parses the NUL-terminated s as 32 hex digits (either case) with dashes
 * anywhere ignored - any UUID spelling - into out. Returns 0, or -1. */
int fx_profile_id_parse_hex(const char *s, uint8_t out[16]);

/* The canonical lowercase text form of id into buf (FX_PROFILE_ID_LEN + 1
 * bytes, NUL-terminated). */
void fx_profile_id_format(const uint8_t id[16], char buf[FX_PROFILE_ID_LEN + 1]);

/* Sorts n ids (16 bytes each, packed) and drops duplicates; returns how
 * many remain. */
size_t fx_profile_ids_sort(uint8_t *ids, size_t n);
/* Whether id is among the n sorted ids. */
int fx_profile_ids_has(const uint8_t *ids, size_t n, const uint8_t id[16]);

#endif
