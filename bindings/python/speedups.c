/* wafermon._speedups: the per-job hot path of the Python SDK in C — the base types of
 * wafermon.Job and wafermon.JobScope, whose __enter__/__exit__ start and finish a job without a
 * Python frame (bench/python_job_overhead.py).
 *
 * It calls the core through function pointers handed over by bind() from the cffi module, so the
 * process keeps exactly one copy of libwafermon (its fork generation, live clients and exit flush
 * are process-wide state). Everything else — checks that name a bad field, metadata encoding,
 * failures and cancellation — stays in Python: this file calls back into the functions bind()
 * received for anything but the common case.
 *
 * Every job of the SDK starts here (`with`, the decorator, Client.start, Client.start_for_app):
 * one path, one guard against a concurrent Client.close(). The GIL stays held across the core
 * calls made here: they only copy into the bounded queue (except with queue.when_full = "spool"
 * and a full queue, when the caller writes the spool), and holding it is what makes reading
 * Client._addr and starting a job atomic against Client.close(), which sets _addr to None before
 * it closes the core's client.
 */
#define PY_SSIZE_T_CLEAN
#ifndef Py_LIMITED_API
#define Py_LIMITED_API 0x030B0000 /* one abi3 module for every CPython >= 3.11 */
#endif
#include <Python.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <structmember.h>

#include "wafermon.h"

/* Py_XSETREF is not in the limited API. */
#define REPLACE_REF(slot, value)                                                                   \
    do {                                                                                           \
        PyObject *old_ = (PyObject *)(slot);                                                       \
        (slot) = (value);                                                                          \
        Py_XDECREF(old_);                                                                          \
    } while (0)

/* ---- what bind() hands over -------------------------------------------------------------- */

static struct {
    __typeof__(&wm_job_start_app) job_start_app;
    __typeof__(&wm_job_succeed) job_succeed;
    __typeof__(&wm_job_destroy) job_destroy;
    PyObject *job_class;   /* wafermon.Job: what __enter__ makes */
    PyObject *scope_class; /* wafermon.JobScope: what job() makes */
    PyObject *kw_names[4]; /* interned keyword names of job(): site_id, metadata, client, monitor */
    PyObject *qualname_name;  /* interned "__qualname__" */
    PyObject *default_client; /* wafermon._default.default_client() */
    PyObject *text;           /* wafermon._metadata.text(what, value): checks, raises */
    PyObject *encode;         /* wafermon._metadata.encode(metadata) */
    PyObject *with_monitor;   /* wafermon._monitor.with_monitor(metadata, monitor) */
    PyObject *raise_status;   /* wafermon.errors.raise_status(status, what) */
    PyObject *finish_for;     /* wafermon._job.finish_for(job, exc) */
    PyObject *closed_error;   /* wafermon.ClosedError */
    PyObject *to_cdata;       /* address -> cffi "wm_job *" */
    PyObject *addr_name;      /* interned "_addr" */
    long pid;                 /* this process's pid; set_pid() after fork */
    bool child;               /* a forked or multiprocessing child: finish_for flushes a share */
} hot;

static bool bound(void) {
    if (hot.job_start_app)
        return true;
    PyErr_SetString(PyExc_RuntimeError, "wafermon._speedups: bind() was not called");
    return false;
}

/* ---- what both types share: the references they own ---------------------------------------- */

/* Each type keeps the objects it owns in a union of named fields and refs[], so one traverse and
 * one clear serve both (GC support) and a new field cannot be forgotten in either. */
#define N_REFS(object) (sizeof((object)->refs) / sizeof(PyObject *))

static int visit_refs(PyObject *self, PyObject **refs, size_t n, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    for (size_t i = 0; i < n; i++)
        Py_VISIT(refs[i]);
    return 0;
}

static void clear_refs(PyObject **refs, size_t n) {
    for (size_t i = 0; i < n; i++)
        Py_CLEAR(refs[i]);
}

/* The end of a dealloc: the references are cleared; frees the object and drops its heap type. */
static void free_object(PyObject *self) {
    PyTypeObject *type = Py_TYPE(self);
    freefunc release = (freefunc)PyType_GetSlot(type, Py_tp_free);
    release(self);
    Py_DECREF(type);
}

/* ---- JobCore: the handle over wm_job ------------------------------------------------------ */

typedef struct {
    PyObject ob_base; /* PyObject_HEAD, spelled out for clang-format */
    wm_job *ptr;
    long pid;
    union {
        struct {
            PyObject *client, *business_key, *sub_key, *parent, *id, *cdata;
        };
        PyObject *refs[6];
    };
    PyObject *weakrefs; /* not owned: managed by PyObject_ClearWeakRefs */
} JobObject;
_Static_assert(offsetof(JobObject, weakrefs) == offsetof(JobObject, refs) + sizeof(PyObject *[6]),
               "every owned reference of JobObject is in refs[]");

static JobObject *job_alloc(PyTypeObject *type, wm_job *ptr, PyObject *client,
                            PyObject *business_key, PyObject *sub_key, PyObject *parent) {
    allocfunc alloc = (allocfunc)PyType_GetSlot(type, Py_tp_alloc);
    JobObject *job = (JobObject *)alloc(type, 0);
    if (!job)
        return NULL;
    job->ptr = ptr;
    job->pid = hot.pid;
    job->client = Py_NewRef(client);
    job->business_key = Py_NewRef(business_key);
    job->sub_key = Py_NewRef(sub_key);
    job->parent = Py_NewRef(parent);
    return job;
}

/* JobCore(address, client, business_key, sub_key, parent): adopts a wm_job* started elsewhere. */
static PyObject *job_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    PyObject *address, *client, *business_key, *sub_key, *parent;
    static char *names[] = {"address", "client", "business_key", "sub_key", "parent", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOO", names, &address, &client, &business_key,
                                     &sub_key, &parent))
        return NULL;
    void *ptr = PyLong_AsVoidPtr(address);
    if (!ptr) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "JobCore: address must not be 0");
        return NULL;
    }
    return (PyObject *)job_alloc(type, ptr, client, business_key, sub_key, parent);
}

static int job_traverse(JobObject *self, visitproc visit, void *arg) {
    return visit_refs((PyObject *)self, self->refs, N_REFS(self), visit, arg);
}

static int job_clear(JobObject *self) {
    clear_refs(self->refs, N_REFS(self));
    return 0;
}

static void job_dealloc(JobObject *self) {
    PyObject_GC_UnTrack(self);
    if (self->weakrefs)
        PyObject_ClearWeakRefs((PyObject *)self);
    /* The core cancels a job still running, and only frees it in a forked child. */
    if (self->ptr && hot.job_destroy)
        hot.job_destroy(self->ptr);
    self->ptr = NULL;
    job_clear(self);
    free_object((PyObject *)self);
}

/* _ptr: the handle as a cffi "wm_job *" for the Python methods, made on first use. */
static PyObject *job_get_ptr(JobObject *self, void *closure) {
    (void)closure;
    if (!self->cdata) {
        if (!bound())
            return NULL;
        PyObject *address = PyLong_FromVoidPtr(self->ptr);
        if (!address)
            return NULL;
        self->cdata = PyObject_CallFunctionObjArgs(hot.to_cdata, address, NULL);
        Py_DECREF(address);
        if (!self->cdata)
            return NULL;
    }
    return Py_NewRef(self->cdata);
}

static PyObject *job_get_addr(JobObject *self, void *closure) {
    (void)closure;
    return PyLong_FromVoidPtr(self->ptr);
}

static PyGetSetDef job_getset[] = {
    {"_ptr", (getter)job_get_ptr, NULL, "the wm_job handle as a cffi pointer", NULL},
    {"_addr", (getter)job_get_addr, NULL, "the wm_job handle's address", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef job_members[] = {
    {"_client", T_OBJECT, offsetof(JobObject, client), READONLY, "the client it emits through"},
    {"_pid", T_LONG, offsetof(JobObject, pid), READONLY, "pid of the process that started it"},
    {"_id", T_OBJECT, offsetof(JobObject, id), 0, "cached entity id"},
    {"business_key", T_OBJECT, offsetof(JobObject, business_key), 0, "the job's business key"},
    {"sub_key", T_OBJECT, offsetof(JobObject, sub_key), 0, "the sub-job's key (None for a job)"},
    {"parent", T_OBJECT, offsetof(JobObject, parent), 0, "the parent job (None for a job)"},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(JobObject, weakrefs), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot job_slots[] = {
    {Py_tp_new, job_new},
    {Py_tp_dealloc, job_dealloc},
    {Py_tp_traverse, job_traverse},
    {Py_tp_clear, job_clear},
    {Py_tp_getset, job_getset},
    {Py_tp_members, job_members},
    {Py_tp_doc, "Base of wafermon.Job: owns one wm_job handle and frees it when collected."},
    {0, NULL},
};

static PyType_Spec job_spec = {
    "wafermon._speedups.JobCore",
    sizeof(JobObject),
    0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    job_slots,
};

/* ---- ScopeCore: `with wafermon.job(...)` --------------------------------------------------- */

typedef struct {
    PyObject ob_base; /* PyObject_HEAD, spelled out for clang-format */
    union {
        struct {
            PyObject *business_key, *site, *meta; /* str or None; str or None; JSON bytes or None */
            PyObject *client;                     /* None means the default client */
            PyObject *job;                        /* the innermost entered job, NULL when none */
            PyObject *outer;                      /* jobs of enclosing entries (a list), or NULL */
        };
        PyObject *refs[6];
    };
    const char *key_utf8, *site_utf8; /* the strs' own UTF-8 (kept by them), or NULL */
    bool ready;                       /* filled by scope_fill */
} ScopeObject;
_Static_assert(offsetof(ScopeObject, key_utf8) ==
                   offsetof(ScopeObject, refs) + sizeof(PyObject *[6]),
               "every owned reference of ScopeObject is in refs[]");

/* A str or None argument as the str's own UTF-8 (no copy: CPython caches it in the str), NULL for
 * None. Anything else — another type, a lone surrogate, a NUL — goes to the Python check, which
 * raises the error that names the argument. */
static int text_arg(const char *what, PyObject *value, const char **out) {
    *out = NULL;
    if (value == Py_None)
        return 0;
    if (PyUnicode_Check(value)) {
        Py_ssize_t len;
        const char *utf8 = PyUnicode_AsUTF8AndSize(value, &len);
        if (utf8 && !memchr(utf8, 0, (size_t)len)) {
            *out = utf8;
            return 0;
        }
        PyErr_Clear();
    }
    PyObject *checked = PyObject_CallFunction(hot.text, "sO", what, value);
    if (!checked)
        return -1;
    Py_DECREF(checked);
    PyErr_Format(PyExc_SystemError, "wafermon: %s was refused here but accepted by text()", what);
    return -1;
}

static int scope_fill(ScopeObject *self, PyObject *business_key, PyObject *site, PyObject *metadata,
                      PyObject *client) {
    const char *key_utf8, *site_utf8;
    if (text_arg("business_key", business_key, &key_utf8) != 0 ||
        text_arg("site_id", site, &site_utf8) != 0)
        return -1;
    PyObject *meta = Py_NewRef(Py_None);
    if (metadata != Py_None) {
        Py_DECREF(meta);
        meta = PyObject_CallFunctionObjArgs(hot.encode, metadata, NULL);
        if (!meta)
            return -1;
        if (!PyBytes_Check(meta)) { /* an empty mapping: no metadata */
            Py_DECREF(meta);
            meta = Py_NewRef(Py_None);
        }
    }
    REPLACE_REF(self->business_key, Py_NewRef(business_key));
    REPLACE_REF(self->site, Py_NewRef(site));
    REPLACE_REF(self->meta, meta);
    REPLACE_REF(self->client, Py_NewRef(client));
    self->key_utf8 = key_utf8;
    self->site_utf8 = site_utf8;
    self->ready = true;
    return 0;
}

/* JobScope(business_key=None, *, site_id=None, metadata=None, client=None) */
static int scope_init(ScopeObject *self, PyObject *args, PyObject *kwargs) {
    PyObject *business_key = Py_None, *site = Py_None, *metadata = Py_None, *client = Py_None;
    static char *names[] = {"business_key", "site_id", "metadata", "client", NULL};
    if (!bound() || !PyArg_ParseTupleAndKeywords(args, kwargs, "|O$OOO", names, &business_key,
                                                 &site, &metadata, &client))
        return -1;
    return scope_fill(self, business_key, site, metadata, client);
}

static int scope_traverse(ScopeObject *self, visitproc visit, void *arg) {
    return visit_refs((PyObject *)self, self->refs, N_REFS(self), visit, arg);
}

static int scope_clear(ScopeObject *self) {
    self->ready = false;
    clear_refs(self->refs, N_REFS(self));
    return 0;
}

static void scope_dealloc(ScopeObject *self) {
    PyObject_GC_UnTrack(self);
    scope_clear(self);
    free_object((PyObject *)self);
}

static const char *bytes_or_null(PyObject *value) {
    return value && value != Py_None ? PyBytes_AsString(value) : NULL;
}

static PyObject *raise_status(wm_status status, const char *what) {
    PyObject *done = PyObject_CallFunction(hot.raise_status, "is", (int)status, what);
    Py_XDECREF(done); /* raise_status always raises */
    if (!PyErr_Occurred())
        PyErr_Format(PyExc_SystemError, "wafermon: status %d was not raised", (int)status);
    return NULL;
}

/* Starts the scope's job (app_*: NULL for the client's configured app); a new reference. */
static JobObject *start_job(ScopeObject *self, const char *app_name, const char *app_version,
                            const char *app_id) {
    if (!bound())
        return NULL;
    if (!self->ready) {
        PyErr_SetString(PyExc_RuntimeError, "JobScope was not initialised");
        return NULL;
    }
    PyObject *client = self->client;
    if (client == Py_None)
        client = PyObject_CallNoArgs(hot.default_client);
    else
        Py_INCREF(client);
    if (!client)
        return NULL;
    /* From here to the core's copy no Python code runs, so the GIL keeps Client.close() out. */
    PyObject *address = PyObject_GetAttr(client, hot.addr_name);
    if (!address) {
        Py_DECREF(client);
        return NULL;
    }
    if (address == Py_None) {
        Py_DECREF(address);
        Py_DECREF(client);
        PyErr_SetString(hot.closed_error, "the client is closed");
        return NULL;
    }
    wm_client *ptr = PyLong_AsVoidPtr(address);
    Py_DECREF(address);
    if (!ptr) {
        Py_DECREF(client);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_SystemError, "client._addr is 0");
        return NULL;
    }
    wm_job *job_ptr = NULL;
    wm_status status = hot.job_start_app(ptr, app_name, app_version, app_id, self->key_utf8,
                                         self->site_utf8, bytes_or_null(self->meta), &job_ptr);
    if (status != WM_OK) {
        Py_DECREF(client);
        return (JobObject *)raise_status(status, "job");
    }
    JobObject *job = job_alloc((PyTypeObject *)hot.job_class, job_ptr, client, self->business_key,
                               Py_None, Py_None);
    Py_DECREF(client);
    if (!job)
        hot.job_destroy(job_ptr); /* cancels it: it was started */
    return job;
}

/* start(*, app_name=None, app_version=None, app_id=None): the job, started now, not entered. */
static PyObject *scope_start(ScopeObject *self, PyObject *args, PyObject *kwargs) {
    PyObject *app[3] = {Py_None, Py_None, Py_None};
    static char *names[] = {"app_name", "app_version", "app_id", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$OOO", names, &app[0], &app[1], &app[2]))
        return NULL;
    const char *utf8[3];
    if (!bound() || text_arg("app name", app[0], &utf8[0]) != 0 ||
        text_arg("app version", app[1], &utf8[1]) != 0 || text_arg("app id", app[2], &utf8[2]) != 0)
        return NULL;
    return (PyObject *)start_job(self, utf8[0], utf8[1], utf8[2]);
}

static PyObject *scope_enter(ScopeObject *self, PyObject *unused) {
    (void)unused;
    JobObject *job = start_job(self, NULL, NULL, NULL);
    if (!job)
        return NULL;
    if (self->job) {
        if (!self->outer && !(self->outer = PyList_New(0))) {
            Py_DECREF(job);
            return NULL;
        }
        if (PyList_Append(self->outer, self->job) != 0) {
            Py_DECREF(job);
            return NULL;
        }
        Py_DECREF(self->job);
    }
    self->job = Py_NewRef((PyObject *)job);
    return (PyObject *)job;
}

static PyObject *scope_exit(ScopeObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "__exit__ takes 3 arguments, got %zd", nargs);
        return NULL;
    }
    JobObject *job = (JobObject *)self->job;
    if (!job) {
        PyErr_SetString(PyExc_RuntimeError, "JobScope exited more often than entered");
        return NULL;
    }
    /* Pop first: whatever happens below, this entry is over. */
    self->job = NULL;
    Py_ssize_t depth = self->outer ? PyList_Size(self->outer) : 0;
    if (depth > 0) {
        self->job = Py_NewRef(PyList_GetItem(self->outer, depth - 1));
        if (PyList_SetSlice(self->outer, depth - 1, depth, NULL) != 0) {
            Py_DECREF(job);
            return NULL;
        }
    }
    PyObject *exc = args[1];
    PyObject *result;
    if (exc == Py_None && job->pid == hot.pid && !hot.child) {
        wm_status status = hot.job_succeed(job->ptr, NULL);
        /* WM_E_STATE: finished inside the block already; that outcome stands. */
        result = status == WM_OK || status == WM_E_STATE ? Py_NewRef(Py_False)
                                                         : raise_status(status, "succeed");
    } else {
        PyObject *done = PyObject_CallFunctionObjArgs(hot.finish_for, (PyObject *)job, exc, NULL);
        result = done ? Py_NewRef(Py_False) : NULL;
        Py_XDECREF(done);
    }
    Py_DECREF(job);
    return result;
}

static PyMemberDef scope_members[] = {
    {"_business_key", T_OBJECT, offsetof(ScopeObject, business_key), READONLY, "business key"},
    {"_site_id", T_OBJECT, offsetof(ScopeObject, site), READONLY, "site id, or None"},
    {"_meta", T_OBJECT, offsetof(ScopeObject, meta), READONLY, "metadata as JSON, or None"},
    {"_client", T_OBJECT, offsetof(ScopeObject, client), READONLY, "client, or None: default"},
    {NULL, 0, 0, 0, NULL},
};

static PyMethodDef scope_methods[] = {
    {"start", (PyCFunction)(void (*)(void))scope_start, METH_VARARGS | METH_KEYWORDS,
     "start($self, /, *, app_name=None, app_version=None, app_id=None)\n--\n\n"
     "Starts the job now and returns it, without entering the scope; finish it yourself. "
     "app_*: the app its events carry, None for the client's configured one (see "
     "Client.start_for_app)."},
    {"__enter__", (PyCFunction)scope_enter, METH_NOARGS, "Starts the job; returns it."},
    {"__exit__", (PyCFunction)(void (*)(void))scope_exit, METH_FASTCALL,
     "Finishes the job with the block's outcome."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot scope_slots[] = {
    {Py_tp_init, scope_init},
    {Py_tp_dealloc, scope_dealloc},
    {Py_tp_traverse, scope_traverse},
    {Py_tp_clear, scope_clear},
    {Py_tp_members, scope_members},
    {Py_tp_methods, scope_methods},
    {Py_tp_doc, "Base of wafermon.JobScope: the C __enter__/__exit__."},
    {0, NULL},
};

static PyType_Spec scope_spec = {
    "wafermon._speedups.ScopeCore",
    sizeof(ScopeObject),
    0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    scope_slots,
};

/* ---- wafermon.job(...) ---------------------------------------------------------------------- */

/* A JobScope made here without a Python frame or an argument dict. */
static PyObject *new_scope(PyObject *business_key, PyObject *site, PyObject *metadata,
                           PyObject *client) {
    PyTypeObject *type = (PyTypeObject *)hot.scope_class;
    ScopeObject *scope = (ScopeObject *)((allocfunc)PyType_GetSlot(type, Py_tp_alloc))(type, 0);
    if (!scope)
        return NULL;
    if (scope_fill(scope, business_key, site, metadata, client) != 0) {
        Py_DECREF(scope);
        return NULL;
    }
    return (PyObject *)scope;
}

/* job(business_key=None, /, *, site_id=None, metadata=None, client=None, monitor=None): a JobScope.
 * A function in place of the business_key is the bare decorator @wafermon.job: the function,
 * decorated with its qualified name as the business key. */
static PyObject *job_fn(PyObject *module, PyObject *const *args, Py_ssize_t nargsf,
                        PyObject *kwnames) {
    (void)module;
    if (!bound())
        return NULL;
    Py_ssize_t nargs = nargsf; /* METH_FASTCALL: a plain count */
    if (nargs > 1)
        return PyErr_Format(PyExc_TypeError,
                            "job() takes at most 1 positional argument (%zd given)", nargs);
    PyObject *business_key = nargs ? args[0] : Py_None;
    PyObject *values[4] = {Py_None, Py_None, Py_None, Py_None}; /* in the order of hot.kw_names */
    Py_ssize_t nkw = kwnames ? PyTuple_Size(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *name = PyTuple_GetItem(kwnames, i);
        int k = 0;
        while (k < 4 && name != hot.kw_names[k] && PyUnicode_Compare(name, hot.kw_names[k]) != 0)
            k++;
        if (k == 4)
            return PyErr_Format(PyExc_TypeError, "job() got an unexpected keyword argument '%U'",
                                name);
        values[k] = args[nargs + i];
    }
    /* monitor= (rare): merged into the metadata by Python, which also refuses a bad one. */
    PyObject *metadata =
        values[3] == Py_None
            ? Py_NewRef(values[1])
            : PyObject_CallFunctionObjArgs(hot.with_monitor, values[1], values[3], NULL);
    if (!metadata)
        return NULL;
    PyObject *result = NULL;
    if (business_key == Py_None || PyUnicode_Check(business_key) ||
        !PyCallable_Check(business_key)) {
        result = new_scope(business_key, values[0], metadata, values[2]);
    } else {
        PyObject *qualname = PyObject_GetAttr(business_key, hot.qualname_name);
        PyObject *scope = qualname ? new_scope(qualname, values[0], metadata, values[2]) : NULL;
        Py_XDECREF(qualname);
        if (scope)
            result = PyObject_CallFunctionObjArgs(scope, business_key, NULL);
        Py_XDECREF(scope);
    }
    Py_DECREF(metadata);
    return result;
}

/* ---- module functions ----------------------------------------------------------------------- */

static void *address_of(PyObject *functions, const char *name) {
    PyObject *value = PyMapping_GetItemString(functions, name);
    if (!value)
        return NULL;
    void *address = PyLong_AsVoidPtr(value);
    Py_DECREF(value);
    if (!address && !PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, "bind: the address of %s is 0", name);
    return address;
}

static PyObject *bind(PyObject *module, PyObject *args, PyObject *kwargs) {
    (void)module;
    PyObject *functions, *job_class, *scope_class, *default_client, *text, *encode, *with_monitor,
        *raise, *finish_for, *closed, *to_cdata;
    static char *names[] = {"functions",  "job_class",    "scope_class",  "default_client",
                            "text",       "encode",       "with_monitor", "raise_status",
                            "finish_for", "closed_error", "to_cdata",     NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "$OOOOOOOOOOO", names, &functions, &job_class,
                                     &scope_class, &default_client, &text, &encode, &with_monitor,
                                     &raise, &finish_for, &closed, &to_cdata))
        return NULL;
    void *start = address_of(functions, "wm_job_start_app");
    void *succeed = start ? address_of(functions, "wm_job_succeed") : NULL;
    void *destroy = succeed ? address_of(functions, "wm_job_destroy") : NULL;
    if (!destroy)
        return NULL;
    if (!PyType_Check(job_class) || !PyType_Check(scope_class)) {
        PyErr_SetString(PyExc_TypeError, "bind: job_class and scope_class must be types");
        return NULL;
    }
    hot.job_start_app = (__typeof__(hot.job_start_app))start;
    hot.job_succeed = (__typeof__(hot.job_succeed))succeed;
    hot.job_destroy = (__typeof__(hot.job_destroy))destroy;
    REPLACE_REF(hot.job_class, Py_NewRef(job_class));
    REPLACE_REF(hot.scope_class, Py_NewRef(scope_class));
    REPLACE_REF(hot.default_client, Py_NewRef(default_client));
    REPLACE_REF(hot.text, Py_NewRef(text));
    REPLACE_REF(hot.encode, Py_NewRef(encode));
    REPLACE_REF(hot.with_monitor, Py_NewRef(with_monitor));
    REPLACE_REF(hot.raise_status, Py_NewRef(raise));
    REPLACE_REF(hot.finish_for, Py_NewRef(finish_for));
    REPLACE_REF(hot.closed_error, Py_NewRef(closed));
    REPLACE_REF(hot.to_cdata, Py_NewRef(to_cdata));
    Py_RETURN_NONE;
}

static PyObject *set_pid(PyObject *module, PyObject *pid) {
    (void)module;
    long value = PyLong_AsLong(pid);
    if (value == -1 && PyErr_Occurred())
        return NULL;
    hot.pid = value;
    Py_RETURN_NONE;
}

static PyObject *set_child(PyObject *module, PyObject *flag) {
    (void)module;
    int value = PyObject_IsTrue(flag);
    if (value < 0)
        return NULL;
    hot.child = value != 0;
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"bind", (PyCFunction)(void (*)(void))bind, METH_VARARGS | METH_KEYWORDS,
     "bind(*, functions, job_class, scope_class, default_client, text, encode, "
     "raise_status, finish_for, closed_error, to_cdata): hands over the core's functions (name -> "
     "address) and the Python types and callables this module makes or defers to."},
    {"job", (PyCFunction)(void (*)(void))job_fn, METH_FASTCALL | METH_KEYWORDS,
     "job($module, business_key=None, /, *, site_id=None, metadata=None, client=None)\n--\n\n"
     "A job: ``with wafermon.job(\"batch-1\", site_id=\"fab1\", metadata={...}) as job:``, also "
     "``async with`` and ``@wafermon.job(\"batch-1\")`` on plain and async functions "
     "(``@wafermon.job`` without arguments uses the function's qualified name as the business "
     "key).\n\nThe job starts when the block is entered (or the function called) and finishes when "
     "it is left: succeeded, failed with the exception's type and message (which propagates), or "
     "cancelled on ``KeyboardInterrupt`` / ``asyncio.CancelledError``. Without ``client`` it runs "
     "on "
     "the default client (see wafermon.configure). ``site_id`` None: the configured site."},
    {"set_pid", set_pid, METH_O, "set_pid(pid): the current process id (called after fork)."},
    {"set_child", set_child, METH_O,
     "set_child(flag): True in a child process, whose jobs then all finish through finish_for."},
    {NULL, NULL, 0, NULL},
};

static int module_exec(PyObject *module) {
    hot.addr_name = PyUnicode_InternFromString("_addr");
    hot.qualname_name = PyUnicode_InternFromString("__qualname__");
    hot.kw_names[0] = PyUnicode_InternFromString("site_id");
    hot.kw_names[1] = PyUnicode_InternFromString("metadata");
    hot.kw_names[2] = PyUnicode_InternFromString("client");
    hot.kw_names[3] = PyUnicode_InternFromString("monitor");
    if (!hot.addr_name || !hot.qualname_name || !hot.kw_names[0] || !hot.kw_names[1] ||
        !hot.kw_names[2] || !hot.kw_names[3])
        return -1;
    PyObject *job_type = PyType_FromSpec(&job_spec);
    if (!job_type || PyModule_AddObject(module, "JobCore", job_type) != 0) {
        Py_XDECREF(job_type);
        return -1;
    }
    PyObject *scope_type = PyType_FromSpec(&scope_spec);
    if (!scope_type || PyModule_AddObject(module, "ScopeCore", scope_type) != 0) {
        Py_XDECREF(scope_type);
        return -1;
    }
    return 0;
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "wafermon._speedups",
    "The Python SDK's per-job hot path in C (see wafermon._job and wafermon._scope).",
    0,
    module_methods,
    module_slots,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    return PyModuleDef_Init(&module_def);
}
