# The two commands of the README. Both start from a fresh Debian 12 machine.
.PHONY: run test bootstrap build

bootstrap:
	scripts/bootstrap.sh

build: bootstrap
	scripts/build.sh

## make run: install, build, start the local stack on its embedded defaults and run a demo job.
run: build
	scripts/run.sh

## make test: install, build, run every test stage (C, ASan/UBSan, Python, Java, R, Perl, conformance).
test: build
	scripts/test.sh
