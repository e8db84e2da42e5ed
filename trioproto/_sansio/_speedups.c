/* Optional accelerator for trioproto._sansio._mask (RFC 6455 §5.3 masking).
 *
 * apply_mask(data, mask) -> bytes: XOR data with the 4-byte mask repeated. Eight bytes at a
 * time through a 64-bit word, then the tail byte by byte. The pure-Python fallback in _mask.py
 * computes the same function; tests run both.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static PyObject *
apply_mask(PyObject *self, PyObject *args)
{
    Py_buffer data, mask;
    PyObject *result = NULL;

    if (!PyArg_ParseTuple(args, "y*y*:apply_mask", &data, &mask)) {
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
        Py_ssize_t length = data.len, i = 0;
        uint64_t word_mask;
        unsigned char repeated[8];

        memcpy(repeated, key, 4);
        memcpy(repeated + 4, key, 4);
        memcpy(&word_mask, repeated, 8);
        Py_BEGIN_ALLOW_THREADS
        for (; i + 8 <= length; i += 8) {
            uint64_t word;
            memcpy(&word, in + i, 8);
            word ^= word_mask;
            memcpy(out + i, &word, 8);
        }
        for (; i < length; i++) {
            out[i] = in[i] ^ key[i & 3];
        }
        Py_END_ALLOW_THREADS
    }
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&mask);
    return result;
}

static PyMethodDef speedups_methods[] = {
    {"apply_mask", apply_mask, METH_VARARGS,
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
