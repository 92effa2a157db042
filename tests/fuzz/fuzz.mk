# libFuzzer harnesses (docs/security.md): every tests/fuzz/fuzz_*.c, built with clang,
# ASan and UBSan against the pure modules the unit tests use (UNIT_SRCS).
#   make fuzz        each harness for FUZZ_SECONDS (default 60) from tests/fuzz/seeds/<name>,
#                    new inputs kept in $(BUILD)/fuzz/corpus/<name>
#   make fuzz-smoke  each for FUZZ_SMOKE_SECONDS (default 3): part of make test
#   make fuzz FUZZ_RUNS=10000000 FUZZ_ONLY="fuzz_vblk fuzz_vnet"
#                    each (or those named) for that many executions instead of a time
#   FUZZ_MAX_LEN=N   inputs of at most N bytes (libFuzzer's -max_len; default 4096): the
#                    device harnesses run a request per few dozen bytes and check all of
#                    guest RAM after each, so shorter inputs run several times faster
# A crash leaves crash-* in $(BUILD)/fuzz/ and fails the target.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 3
FUZZ_HARNESSES := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_ONLY ?= $(FUZZ_HARNESSES)
FUZZ_RUNS ?=
FUZZ_MAX_LEN ?=
FUZZ_BINS := $(patsubst %,$(BUILD)/fuzz/%,$(FUZZ_HARNESSES))
FUZZ_CFLAGS := -Iinclude -I. -std=gnu11 -O1 -g -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined -Wall -Wno-unused-parameter
FUZZ_ENV := ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: fuzz fuzz-smoke fuzz-build
fuzz-build: $(FUZZ_BINS)

$(BUILD)/fuzz/obj/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

# Recursive, and expanded a second time in the rule: the stem's % must not reach patsubst.
FUZZ_OBJS = $(patsubst %,$(BUILD)/fuzz/obj/%.o,$(UNIT_SRCS))
.SECONDEXPANSION:
$(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/obj/tests/fuzz/fuzz_%.c.o $$(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^

# The harnesses $(2), each for $(1) seconds or, with $(3), for $(3) executions: from
# $(BUILD)/fuzz/corpus/NAME (written) and the checked-in seeds.
define fuzz_run
	@set -e; for h in $(2); do \
		mkdir -p $(BUILD)/fuzz/corpus/$$h tests/fuzz/seeds/$$h; \
		echo "fuzz: $$h for $(if $(3),$(3) runs,$(1) s)$(if $(FUZZ_MAX_LEN), of inputs up to $(FUZZ_MAX_LEN) bytes)"; \
		( cd $(BUILD)/fuzz && $(FUZZ_ENV) ./$$h $(if $(3),-runs=$(3),-max_total_time=$(1)) \
			-print_final_stats=1 $(if $(FUZZ_MAX_LEN),-max_len=$(FUZZ_MAX_LEN)) \
			-timeout=10 -rss_limit_mb=2048 corpus/$$h $(CURDIR)/tests/fuzz/seeds/$$h \
			> $$h.log 2>&1 ) || { tail -40 $(BUILD)/fuzz/$$h.log; \
			echo "fuzz: $$h FAILED (log $(BUILD)/fuzz/$$h.log)"; exit 1; }; \
		grep -E "stat::number_of_executed_units|stat::peak_rss_mb" $(BUILD)/fuzz/$$h.log | \
			sed "s/^/fuzz: $$h: /"; \
		grep -E "^#[0-9]+[[:space:]]+DONE" $(BUILD)/fuzz/$$h.log | sed "s/^/fuzz: $$h: /" || true; \
	done
endef

fuzz: deps-fuzz fuzz-build
	$(call fuzz_run,$(FUZZ_SECONDS),$(FUZZ_ONLY),$(FUZZ_RUNS))

fuzz-smoke: deps-fuzz fuzz-build
	$(call fuzz_run,$(FUZZ_SMOKE_SECONDS),$(FUZZ_HARNESSES),)

-include $(wildcard $(BUILD)/fuzz/obj/*/*.d $(BUILD)/fuzz/obj/*/*/*.d $(BUILD)/fuzz/obj/*/*/*/*.d)
