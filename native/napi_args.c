// Reading N-API arguments: typed arrays checked for type and length, and parameter objects read
// field by field into C structs, each failure a JS exception that names the field.
#include "kernels.h"
#include <stdio.h>

// A typed array of the wanted element type, else a TypeError naming it.
static int typed_array(napi_env env, napi_value v, napi_typedarray_type want, const char* name, void** data, size_t* len) {
  napi_typedarray_type type;
  size_t length;
  void* ptr;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, &ab, &off) != napi_ok || type != want) {
    char msg[64];
    snprintf(msg, sizeof msg, "rlo_native: expected %s", name);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  *data = ptr;
  *len = length;
  return 1;
}

int rlo_get_f32(napi_env env, napi_value v, float** data, size_t* len) {
  return typed_array(env, v, napi_float32_array, "a Float32Array", (void**)data, len);
}

int rlo_get_i32(napi_env env, napi_value v, int32_t** data, size_t* len) {
  return typed_array(env, v, napi_int32_array, "an Int32Array", (void**)data, len);
}

int rlo_get_f32_opt(napi_env env, napi_value v, float** data, size_t* len) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_null || t == napi_undefined) { *data = NULL; *len = 0; return 1; }
  return rlo_get_f32(env, v, data, len);
}

int rlo_get_double(napi_env env, napi_value v, double* out) {
  if (napi_get_value_double(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "rlo_native: expected a number");
    return 0;
  }
  return 1;
}

int rlo_check_len(napi_env env, size_t got, size_t want, const char* what) {
  if (got != want) {
    char msg[160];
    snprintf(msg, sizeof msg, "rlo_native: %s has %zu values, expected %zu", what, got, want);
    napi_throw_range_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

int rlo_get_args(napi_env env, napi_callback_info info, size_t want, napi_value* argv, const char* fn) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != want) {
    char msg[120];
    snprintf(msg, sizeof msg, "rlo_native: %s expects %zu arguments, got %zu", fn, want, argc);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

static int field(napi_env env, napi_value obj, const char* name, napi_value* v) {
  bool has = false;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has || napi_get_named_property(env, obj, name, v) != napi_ok) {
    char msg[120];
    snprintf(msg, sizeof msg, "rlo_native: parameter '%s' is missing", name);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

static int bad_field(napi_env env, const char* name, const char* want) {
  char msg[120];
  snprintf(msg, sizeof msg, "rlo_native: parameter '%s' must be %s", name, want);
  napi_throw_type_error(env, NULL, msg);
  return 0;
}

int rlo_int_field(napi_env env, napi_value obj, const char* name, int* out) {
  napi_value v;
  if (!field(env, obj, name, &v)) return 0;
  if (napi_get_value_int32(env, v, out) != napi_ok) return bad_field(env, name, "an integer");
  return 1;
}

int rlo_double_field(napi_env env, napi_value obj, const char* name, double* out) {
  napi_value v;
  if (!field(env, obj, name, &v)) return 0;
  if (napi_get_value_double(env, v, out) != napi_ok) return bad_field(env, name, "a number");
  return 1;
}

int rlo_bool_field(napi_env env, napi_value obj, const char* name, int* out) {
  napi_value v;
  bool b = false;
  if (!field(env, obj, name, &v)) return 0;
  if (napi_get_value_bool(env, v, &b) != napi_ok) return bad_field(env, name, "a boolean");
  *out = b ? 1 : 0;
  return 1;
}

int rlo_int_list_field(napi_env env, napi_value obj, const char* name, int* out, int max, int* n) {
  napi_value v;
  uint32_t len = 0;
  if (!field(env, obj, name, &v)) return 0;
  if (napi_get_array_length(env, v, &len) != napi_ok || len > (uint32_t)max) return bad_field(env, name, "a short array of integers");
  for (uint32_t i = 0; i < len; i++) {
    napi_value e;
    napi_get_element(env, v, i, &e);
    if (napi_get_value_int32(env, e, &out[i]) != napi_ok) return bad_field(env, name, "an array of integers");
  }
  *n = (int)len;
  return 1;
}

#define GEOM(f) rlo_int_field(env, obj, #f, &g->f)
int rlo_get_conv_geom(napi_env env, napi_value obj, ConvGeom* g) {
  return GEOM(n) && GEOM(h) && GEOM(w) && GEOM(c) && GEOM(kh) && GEOM(kw) && GEOM(o) && GEOM(oh) && GEOM(ow) &&
         GEOM(sh) && GEOM(sw) && GEOM(dh) && GEOM(dw) && GEOM(pt) && GEOM(pl);
}
#undef GEOM
