"""ONNX Runtime's dynamic int8 quantization, done with Debian's python3-onnx
(onnxruntime's own quantize_dynamic is a pip package, not here): every
MatMul or Gemm whose weight is an initializer becomes

    DynamicQuantizeLinear(A) -> (A_u8, a_scale, a_zero_point)      per tensor
    MatMulInteger(A_u8, W_s8, a_zero_point, 0) -> int32
    Cast(float) * a_scale * w_scale[column] (+ bias)

with the weight quantized per output column, symmetric (w_scale =
max|W[:, n]| / 127), which is what quantize_dynamic(per_channel=True,
weight_type=QInt8) emits. Everything else is left as exported.

    /usr/bin/python3 bench/onnx_quantize.py IN.onnx OUT.onnx
"""

import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto


def quantize_weight(w):
    """w (K, N) float32 -> (q int8 (K, N), scale float32 (N))."""
    scale = np.abs(w).max(axis=0) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


def main(src, dst):
    model = onnx.load(src)
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    nodes, done = [], 0
    for node in g.node:
        w_name = node.input[1] if len(node.input) > 1 else None
        if node.op_type not in ("MatMul", "Gemm") or w_name not in inits:
            nodes.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Gemm" and (attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0
                                       or attrs.get("beta", 1.0) != 1.0):
            nodes.append(node)
            continue
        w = numpy_helper.to_array(inits[w_name]).astype(np.float32)
        if w.ndim != 2:
            nodes.append(node)
            continue
        if node.op_type == "Gemm" and attrs.get("transB", 0):
            w = w.T
        q, scale = quantize_weight(w)
        p = f"q{done}_"
        g.initializer.extend([numpy_helper.from_array(q, p + "w"),
                              numpy_helper.from_array(scale, p + "wscale"),
                              numpy_helper.from_array(np.array(0, dtype=np.int8), p + "wzp")])
        a = node.input[0]
        nodes += [
            helper.make_node("DynamicQuantizeLinear", [a], [p + "a", p + "ascale", p + "azp"]),
            helper.make_node("MatMulInteger", [p + "a", p + "w", p + "azp", p + "wzp"],
                             [p + "i32"]),
            helper.make_node("Cast", [p + "i32"], [p + "f"], to=TensorProto.FLOAT),
            helper.make_node("Mul", [p + "f", p + "ascale"], [p + "fa"]),
        ]
        out = node.output[0]
        if node.op_type == "Gemm" and len(node.input) > 2 and node.input[2]:
            nodes += [helper.make_node("Mul", [p + "fa", p + "wscale"], [p + "fw"]),
                      helper.make_node("Add", [p + "fw", node.input[2]], [out])]
        else:
            nodes.append(helper.make_node("Mul", [p + "fa", p + "wscale"], [out]))
        done += 1
    del g.node[:]
    g.node.extend(nodes)
    used = {i for n in g.node for i in n.input}
    keep = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    onnx.checker.check_model(model)
    onnx.save(model, dst)
    print(f"{dst}: {done} products quantized to int8")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1], sys.argv[2])
