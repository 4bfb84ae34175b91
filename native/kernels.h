// Shared declarations of the native kernels (rlo_native.c registers them with N-API). Each entry
// point takes its typed arrays and one parameter object whose fields are read by name into a C
// struct (napi_args.c); src/native/contracts.ts declares the same objects for TypeScript.
#ifndef RLO_KERNELS_H
#define RLO_KERNELS_H
#include <node_api.h>
#include <stdint.h>
#include <stddef.h>

// ---- argument reading (napi_args.c); each returns 0 with a JS exception pending on bad input
int rlo_get_f32(napi_env env, napi_value v, float** data, size_t* len);
int rlo_get_f32_opt(napi_env env, napi_value v, float** data, size_t* len);  // null/undefined -> NULL
int rlo_get_i32(napi_env env, napi_value v, int32_t** data, size_t* len);
int rlo_get_double(napi_env env, napi_value v, double* out);
int rlo_check_len(napi_env env, size_t got, size_t want, const char* what);
int rlo_get_args(napi_env env, napi_callback_info info, size_t want, napi_value* argv, const char* fn);
int rlo_int_field(napi_env env, napi_value obj, const char* name, int* out);
int rlo_double_field(napi_env env, napi_value obj, const char* name, double* out);
int rlo_bool_field(napi_env env, napi_value obj, const char* name, int* out);
// An integer array field of at most `max` entries; *n receives its length.
int rlo_int_list_field(napi_env env, napi_value obj, const char* name, int* out, int max, int* n);

// ---- parameter structs (field names as in the JS objects)
typedef struct {
  int n, h, w, c;          // input
  int kh, kw, o;           // filter
  int oh, ow;              // output
  int sh, sw, dh, dw;      // strides, dilations
  int pt, pl;              // padding top/left
} ConvGeom;
int rlo_get_conv_geom(napi_env env, napi_value obj, ConvGeom* g);

#define RLO_MAX_RANK 8

// ---- entry points
napi_value rlo_conv2d(napi_env env, napi_callback_info info);
napi_value rlo_conv2d_backprop_input(napi_env env, napi_callback_info info);
napi_value rlo_conv2d_backprop_filter(napi_env env, napi_callback_info info);
napi_value rlo_depthwise_conv2d(napi_env env, napi_callback_info info);
napi_value rlo_matmul(napi_env env, napi_callback_info info);
napi_value rlo_pool2d(napi_env env, napi_callback_info info);
napi_value rlo_bias_act(napi_env env, napi_callback_info info);
napi_value rlo_upfirdn2d(napi_env env, napi_callback_info info);
napi_value rlo_binary(napi_env env, napi_callback_info info);
napi_value rlo_reduce_sum(napi_env env, napi_callback_info info);
napi_value rlo_gather(napi_env env, napi_callback_info info);
napi_value rlo_adam_update(napi_env env, napi_callback_info info);
napi_value rlo_sparse_map(napi_env env, napi_callback_info info);
#endif
