#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Emit the series as `git format-patch` files with a cover letter into
# series-out/, from the commits mk/assemble.sh made on top of the base.
. "$(dirname "$0")/common.sh"

out=$TOP/series-out
rm -rf "$out"
# The cover letter's subject and body come from series/cover-letter.
git -C "$SERIES_REPO" config branch.series.description \
    "$(cat "$TOP/series/cover-letter")

Base: $(cat "$BASE_REPO/base-version")."
git -C "$SERIES_REPO" format-patch -q --cover-letter \
    --cover-from-description=subject --subject-prefix=PATCH \
    -o "$out" base..series
log "$(ls "$out"/*.patch | wc -l) files in series-out/ (cover letter included)"
