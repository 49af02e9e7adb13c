// libFuzzer target for the sidecar's native event check (../eventcheck.cpp), compiled into this
// program whole, so the checker is the real one: count_valid_ndjson and count_valid_array run on
// arbitrary bytes. The checker is compiled from the same Python description the sidecar uses
// (wafermon_sidecar/validation/native.py), through an embedded interpreter; the venv's python is
// named at build time (WM_FUZZ_PYTHON) or by $WAFERMON_FUZZ_PYTHON.
//
// The oracle is the check's own promise: it may accept less than the authority, never more. So
// whenever it answers a count, wafermon_schema.check_batch (the authority) must accept exactly that
// many events with no problem, for the body and, on the array path, for the NDJSON it hands back.
#include "../eventcheck.cpp"

#include <cstdio>
#include <cstdlib>

namespace {

PyObject *g_capsule = nullptr;
PyObject *g_authority = nullptr; // authority(body: bytes) -> accepted count, or -1 on any problem

constexpr const char *kSetup = R"PY(
from wafermon_schema import check_batch
from wafermon_sidecar.validation.crossfield import event_table
from wafermon_sidecar.validation.native import compile_args as describe

compile_args = describe(event_table())


def authority(body):
    try:
        accepted, problems = check_batch(body)
    except Exception:  # a body the authority refuses whole
        return -1
    return -1 if problems else len(accepted)
)PY";

[[noreturn]] void die(const char *what) {
    PyErr_Print();
    fprintf(stderr, "fuzz_eventcheck: %s\n", what);
    abort();
}

long authority(const char *body, size_t n) {
    PyObject *result = PyObject_CallFunction(g_authority, "y#", body, static_cast<Py_ssize_t>(n));
    if (result == nullptr)
        die("the authority raised");
    long count = PyLong_AsLong(result);
    Py_DECREF(result);
    return count;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    const char *python = getenv("WAFERMON_FUZZ_PYTHON");
#ifdef WM_FUZZ_PYTHON
    if (python == nullptr)
        python = WM_FUZZ_PYTHON;
#endif
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    // The venv's interpreter as program name: its pyvenv.cfg and site-packages are then used.
    if (python != nullptr &&
        PyStatus_Exception(PyConfig_SetBytesString(&config, &config.program_name, python)))
        die("cannot set the program name");
    if (PyStatus_Exception(Py_InitializeFromConfig(&config)))
        die("cannot start Python");
    PyConfig_Clear(&config);
    PyObject *globals = PyModule_GetDict(PyImport_AddModule("__main__"));
    PyObject *done = PyRun_String(kSetup, Py_file_input, globals, globals);
    if (done == nullptr)
        die("cannot describe the event model (is wafermon-sidecar installed in that python?)");
    Py_DECREF(done);
    g_capsule = compile(nullptr, PyDict_GetItemString(globals, "compile_args"));
    g_authority = PyDict_GetItemString(globals, "authority");
    if (g_capsule == nullptr || g_authority == nullptr)
        die("cannot compile the event check");
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const Checker &checker = *checker_of(g_capsule);
    // An exact-size heap copy, so ASan sees any read past the end (the check copies into its own
    // padded buffer; it must never read the caller's beyond n).
    std::vector<char> body(data, data + size);
    const char *p = body.empty() ? "" : body.data();
    long events = count_valid_ndjson(checker, p, size);
    if (events >= 0 && authority(p, size) != events)
        die("the native NDJSON check accepted a body the authority does not accept whole");
    std::string ndjson;
    long items = count_valid_array(checker, p, size, ndjson);
    if (items >= 0) {
        if (authority(p, size) != items)
            die("the native array check accepted a body the authority does not accept whole");
        if (authority(ndjson.data(), ndjson.size()) != items)
            die("the NDJSON the array check hands back is not the same events");
    }
    return 0;
}
