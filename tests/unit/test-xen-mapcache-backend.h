/*
 * In-process stand-in for libxenforeignmemory, for the map cache tests.
 *
 * Copyright (c) 2026 Xen DM Developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Guest RAM is a memfd; a p2m table maps each guest frame to a page of
 * that file (identity at start).  Every file page holds a pattern that
 * names it, written when the page is first mapped, so a test can tell
 * whether a pointer reads the guest bytes it should.  Frames can be made
 * unmappable and whole map calls made to fail.
 */

#ifndef TEST_XEN_MAPCACHE_BACKEND_H
#define TEST_XEN_MAPCACHE_BACKEND_H

#define MCB_PAGE 4096ULL

/* Guest RAM of @ram_bytes plus @spare_pages pages for p2m changes. */
void mcb_init(uint64_t ram_bytes, uint64_t spare_pages);

/* Byte the guest has at @gpa, as the current p2m says. */
uint8_t mcb_expected(uint64_t gpa);

/* Do @len bytes at @p hold guest [gpa, gpa + len)?  Checks a sample. */
bool mcb_check(const void *p, uint64_t gpa, size_t len);

/* Point guest frame @pfn at file page @page (a p2m change). */
void mcb_p2m_set(uint64_t pfn, uint64_t page);

/* Make mapping @pfn fail (per-page error) or work again. */
void mcb_set_bad(uint64_t pfn, bool bad);

/* Make the next @n map calls fail as a whole. */
void mcb_fail_next(unsigned int n);

/* Whether runstate_check(RUN_STATE_INMIGRATE) answers true. */
void mcb_set_inmigrate(bool on);

/* Run @fn once, inside the next map call, before it maps anything. */
void mcb_set_map_hook(void (*fn)(void));

/* Take the BQL (qemu_mutex_lock_iothread) if it is free. */
bool mcb_bql_trylock(void);

/* Counters (atomic). */
extern unsigned long mcb_map_calls;
extern unsigned long mcb_notify_add;
extern unsigned long mcb_notify_remove;

#endif
