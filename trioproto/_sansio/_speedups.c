/* Optional accelerator for trioproto._sansio._mask (RFC 6455 §5.3 masking).
 *
 * apply_mask(data, mask) -> bytes: XOR data with the 4-byte mask repeated. Eight bytes at a
 * time through a 64-bit word, then the tail byte by byte. The pure-Python fallback in _mask.py
 * computes the same function; tests run both.
 *
 * Called once per received frame: METH_FASTCALL (no argument tuple to parse), and the GIL is
 * released only for payloads large enough to pay for giving it up and taking it back.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Below this many bytes the XOR takes less time than releasing and reacquiring the GIL. */
#define RELEASE_GIL_FROM 65536

static void
xor_mask(const unsigned char *in, unsigned char *out, Py_ssize_t length, const unsigned char *key)
{
    Py_ssize_t i = 0;
    uint64_t word_mask;
    unsigned char repeated[8];

    memcpy(repeated, key, 4);
    memcpy(repeated + 4, key, 4);
    memcpy(&word_mask, repeated, 8);
    for (; i + 8 <= length; i += 8) {
        uint64_t word;
        memcpy(&word, in + i, 8);
        word ^= word_mask;
        memcpy(out + i, &word, 8);
    }
    for (; i < length; i++) {
        out[i] = in[i] ^ key[i & 3];
    }
}

static PyObject *
apply_mask(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data, mask;
    PyObject *result = NULL;

    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "apply_mask() takes exactly 2 arguments (%zd given)", nargs);
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[1], &mask, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    if (mask.len != 4) {
        PyErr_SetString(PyExc_ValueError, "mask must contain 4 bytes");
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, data.len);
    if (result == NULL) {
        goto done;
    }
    {
        const unsigned char *in = (const unsigned char *)data.buf;
        const unsigned char *key = (const unsigned char *)mask.buf;
        unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);

        if (data.len >= RELEASE_GIL_FROM) {
            Py_BEGIN_ALLOW_THREADS
            xor_mask(in, out, data.len, key);
            Py_END_ALLOW_THREADS
        }
        else {
            xor_mask(in, out, data.len, key);
        }
    }
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&mask);
    return result;
}

static PyMethodDef speedups_methods[] = {
    {"apply_mask", (PyCFunction)(void (*)(void))apply_mask, METH_FASTCALL,
     "apply_mask(data, mask) -> bytes\n\nMask or unmask data with a 4-byte key (RFC 6455 §5.3)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT, "trioproto._sansio._speedups",
    "C accelerator for trioproto's codec.", -1, speedups_methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModule_Create(&speedups_module);
}
