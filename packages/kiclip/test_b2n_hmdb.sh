#!/usr/bin/env bash
# Alias of test_b2n_hmdb51.sh (the original repository's file name).
exec bash "$(dirname "${BASH_SOURCE[0]}")/test_b2n_hmdb51.sh" "$@"
