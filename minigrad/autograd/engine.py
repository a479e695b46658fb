"""backward() and grad(): argument checks around the Cython reverse sweep."""
from minigrad.autograd.grad_mode import STATE
from minigrad.autograd.variable import TensorBase
from minigrad_kernels._tape import run_backward


_final_callbacks = []


def queue_callback(callback):
    """Run callback() once the backward() now sweeping has finished (DistributedDataParallel waits for its
    gradient reductions there); callbacks queued outside a backward run at the end of the next one."""
    _final_callbacks.append(callback)


def _run_final_callbacks():
    while _final_callbacks:
        _final_callbacks.pop(0)()


def _as_tuple(value, argument):
    if isinstance(value, TensorBase):
        return (value,)
    if isinstance(value, (tuple, list)):
        return tuple(value)
    raise TypeError(f"{argument}: expected a Tensor or a sequence of Tensors, got {type(value).__name__}")


def _root_grads(outputs, grad_outputs):
    grad_outputs = (None,) * len(outputs) if grad_outputs is None else _as_tuple(grad_outputs, "grad_outputs")
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad_outputs: expected {len(outputs)} gradients (one per output), "
                           f"got {len(grad_outputs)}")
    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(out, TensorBase):
            raise TypeError(f"outputs[{i}]: expected a Tensor, got {type(out).__name__}")
        if not out._requires_grad:
            raise RuntimeError(f"outputs[{i}]: element {i} of tensors does not require grad and does "
                               "not have a grad_fn")
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs, "
                                   f"but output {i} has shape {list(out.shape)}")
            g = out._ones_like()
        elif not isinstance(g, TensorBase):
            raise TypeError(f"grad_outputs[{i}]: expected a Tensor, got {type(g).__name__}")
        elif g._data.shape != out._data.shape:  # (.shape builds a Size)
            raise RuntimeError(f"grad_outputs[{i}]: Mismatch in shape: grad_output[{i}] has a shape of "
                               f"{list(g.shape)} and output[{i}] has a shape of {list(out.shape)}.")
        elif g.dtype is not out.dtype:
            g = g.to(out.dtype)
        grads.append(g)
    return [out._grad_edge() for out in outputs], grads


def _sweep(roots, grads, retain_graph, create_graph, targets=None):
    previous = STATE.grad_enabled
    STATE.grad_enabled = create_graph
    try:
        return run_backward(roots, grads, retain_graph, targets)
    finally:
        STATE.grad_enabled = previous


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaf) into every leaf's .grad (or only into `inputs`' .grad)."""
    tensors = _as_tuple(tensors, "tensors")
    roots, grads = _root_grads(tensors, grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    try:
        if inputs is None:
            _sweep(roots, grads, retain_graph, create_graph)
        else:
            inputs = _as_tuple(inputs, "inputs")
            found = grad(tensors, inputs, grads, retain_graph, create_graph, allow_unused=True)
            for tensor, g in zip(inputs, found):
                if g is None:
                    continue
                if tensor.is_leaf:  # through the leaf's accumulator, so its post-accumulate hooks run too
                    tensor._grad_edge()[0].fn.accumulate(g, create_graph)
                else:
                    tensor._accumulate_grad(g, create_graph)
    except BaseException:
        _final_callbacks.clear()
        raise
    _run_final_callbacks()


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """The gradients of `outputs` with respect to `inputs`, returned rather than accumulated."""
    outputs = _as_tuple(outputs, "outputs")
    inputs = _as_tuple(inputs, "inputs")
    for i, tensor in enumerate(inputs):
        if not isinstance(tensor, TensorBase):
            raise TypeError(f"inputs[{i}]: expected a Tensor, got {type(tensor).__name__}")
        if not tensor._requires_grad:
            raise RuntimeError(f"inputs[{i}]: One of the differentiated Tensors does not require grad")
    roots, grads = _root_grads(outputs, grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    edges = [tensor._grad_edge() for tensor in inputs]
    targets = {}
    for i, edge in enumerate(edges):
        targets.setdefault(edge, len(targets))
    captured = _sweep(roots, grads, retain_graph, create_graph, targets)
    result = []
    for i, edge in enumerate(edges):
        g = captured[targets[edge]]
        if g is None and not allow_unused:
            raise RuntimeError(f"inputs[{i}]: One of the differentiated Tensors appears to not have "
                               "been used in the graph. Set allow_unused=True if this is the desired behavior.")
        if g is not None and not create_graph:
            g = g.detach()
        result.append(g)
    return tuple(result)
