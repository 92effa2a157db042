# End-to-end scenarios in an emulator (docs/testing.md). Included by the top Makefile.
# `make test-svm` boots every scenario in QEMU (AMD SVM); E2E_ARGS picks a subset or options,
# e.g. `make test-svm E2E_ARGS="triple-fault -v"`.

E2E_ARGS ?=

.PHONY: test-svm
test-svm: core loader guests
	$(PYTHON) tests/e2e/run.py --vendor svm $(E2E_ARGS)
