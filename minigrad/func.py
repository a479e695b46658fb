"""Function transforms in the shape of torch.func: vjp, grad, grad_and_value, jvp, linearize, jacrev,
jacfwd, hessian, vmap and functional_call.

They compose (vmap of grad, grad of vmap, jacfwd of jacrev, ...). Reverse mode differentiates on the
physical tensors of any vmap its inputs are batched by: a batched input becomes one leaf holding the
whole batch, whose gradient is the batch of per-example gradients, as the examples are independent.
"""
from minigrad._vmap import _flatten, _level, _rebuild, active_levels, lift, lower, vmap
from minigrad.autograd.engine import grad as _grad
from minigrad.autograd.forward_ad import jvp as _jvp
from minigrad.autograd.grad_mode import enable_grad
from minigrad.creation import eye
from minigrad.tensor import Tensor

__all__ = ["vjp", "grad", "grad_and_value", "jvp", "linearize", "jacrev", "jacfwd", "hessian", "vmap",
           "functional_call"]


def _differentiable_copy(x, index):
    if not isinstance(x, Tensor):
        raise ValueError(f"primals[{index}]: Thing passed to transform API must be Tensor, got {type(x)}")
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"primals[{index}]: only Tensors of floating point dtype can require gradients, "
                           f"got {x.dtype}")
    copy = x._alias_with_graph() if x.requires_grad else x.detach().requires_grad_()
    copy._tangent = x._tangent  # forward over reverse: the leaf keeps an enclosing jvp's tangent
    return copy


def _leaves(tree):
    return [leaf for leaf, _ in _flatten(tree, None, "")]


def _levels(tree):
    """The vmap levels that batch any tensor of `tree`, lowest first."""
    found = set()
    for t in _leaves(tree):
        while _level(t):
            found.add(t._vmap_level)
            t = t._physical
    return sorted(found)


def _lower_all(t, levels):
    sizes = dict(active_levels())
    for level in reversed(levels):
        t = lower(t, level, sizes[level])
    return t


def _lift_all(t, levels):
    for level in levels:
        t = lift(t, level)
    return t


def _require_grad(tensors):
    """Whether an enclosing reverse-mode transform differentiates through these."""
    return any(isinstance(t, Tensor) and t.requires_grad for t in tensors)


def _carry_tangents(tensors):
    """Whether an enclosing jvp pushes tangents through these."""
    return any(isinstance(t, Tensor) and t._tangent is not None for t in tensors)


def _detach_keeping_tangent(t):
    detached = t.detach()
    detached._tangent = None if t._tangent is None else t._tangent.detach()
    return detached


def _argnums(argnums, args, name):
    if isinstance(argnums, int) and not isinstance(argnums, bool):
        indices = (argnums,)
    elif isinstance(argnums, tuple) and argnums and all(isinstance(i, int) for i in argnums):
        indices = argnums
    else:
        raise RuntimeError(f"{name}: argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    for i in indices:
        if not -len(args) <= i < len(args):
            raise RuntimeError(f"{name}: Got argnum={i}, but only {len(args)} positional inputs")
    indices = tuple(i % len(args) for i in indices)
    if len(set(indices)) != len(indices):
        raise RuntimeError(f"{name}: argnums elements must be unique, got {argnums}")
    return indices


def _split_aux(output, name):
    """(output, aux) from a has_aux function's result, which must be a pair."""
    if not isinstance(output, tuple) or len(output) != 2:
        raise RuntimeError(f"{name}: output of function f should be a tuple: (output, aux) if has_aux is True")
    return output


class _Recorded:
    """func run with some inputs as leaves on the physical level of the vmaps batching them, its graph
    recorded for reverse-mode sweeps: `outputs` (physical), `leaves`, `levels` and what func returned."""

    def __init__(self, func, args, kwargs, indices, has_aux, name):
        levels = _levels((args, kwargs))
        while True:
            sources = [_lower_all(leaf, levels) for i in indices for leaf in _leaves(args[i])]
            self.leaves = [_differentiable_copy(s, n) for n, s in enumerate(sources)]
            lifted = iter([_lift_all(leaf, levels) for leaf in self.leaves])
            call = [(_rebuild(a, lifted) if i in indices else a) for i, a in enumerate(args)]
            with enable_grad():
                output = func(*call, **kwargs)
            if has_aux:
                output, self.aux = _split_aux(output, name)
            extra = set(_levels(output)) - set(levels)
            if not extra:
                break
            levels = sorted(set(levels) | extra)  # a tensor captured from an enclosing vmap batches the output
        for i, out in enumerate(_leaves(output)):
            if not isinstance(out, Tensor):
                raise RuntimeError(f"{name}: expected f(*primals) to return only tensors, got unsupported type "
                                   f"{type(out)} (output {i})")
        self.output, self.levels, self.indices, self.args = output, levels, indices, args
        self.outputs = [_lower_all(o, levels) for o in _leaves(output)]
        self.sources = sources

    def pull_back(self, cotangents):
        """One gradient per leaf (zeros where unused), lifted back to the vmap levels of the inputs."""
        if not set(self.levels) <= {level for level, _ in active_levels()}:
            raise RuntimeError("vjp_fn: called after the vmap that batched the primals has returned; call it "
                               "inside that vmap")
        physical = [_lower_all(c, self.levels) for c in cotangents]
        keep_graph = _require_grad(self.sources + physical)
        tangents = _carry_tangents(self.sources + physical)
        grads = _grad(self.outputs, self.leaves, physical, retain_graph=True, create_graph=keep_graph or tangents,
                      allow_unused=True)
        if tangents and not keep_graph:  # the graph was kept only for the tangents it carries
            grads = [None if g is None else _detach_keeping_tangent(g) for g in grads]
        return [_lift_all(leaf._zeros_like() if g is None else g, self.levels) for g, leaf in zip(grads, self.leaves)]

    def value(self):
        """What func returned, cut from the graph recorded here unless an enclosing transform needs it."""
        if _require_grad(self.sources):
            return self.output
        return _rebuild(self.output, iter([_detach_keeping_tangent(o) for o in _leaves(self.output)]))

    def structured(self, grads):
        """The gradients in the structure of args[argnums]: one per argnum for a tuple of argnums."""
        grads = iter(grads)
        return tuple(_rebuild(self.args[i], grads) for i in self.indices)


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn) where vjp_fn(cotangents) returns one gradient per primal (a tuple);
    with has_aux=True func returns (output, aux) and vjp returns (output, vjp_fn, aux)."""
    run = _Recorded(func, primals, {}, tuple(range(len(primals))), has_aux, "vjp(f, *primals)")
    outputs = _leaves(run.output)

    def vjp_fn(*cotangents):
        if len(cotangents) == 1:
            cotangents = cotangents[0]
        given = _leaves(cotangents)
        if len(given) != len(outputs):
            raise RuntimeError("Expected pytree structure of cotangents to be the same as pytree structure of "
                               f"outputs to the function: got {len(given)} cotangents for {len(outputs)} outputs")
        for i, (c, o) in enumerate(zip(given, outputs)):
            if not isinstance(c, Tensor):
                raise RuntimeError(f"cotangents[{i}]: expected a Tensor, got {type(c)}")
            if c.shape != o.shape:
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {c.shape} and "
                                   f"output[{i}] has a shape of {o.shape}.")
        return run.structured(run.pull_back(given))

    if has_aux:
        return run.value(), vjp_fn, run.aux
    return run.value(), vjp_fn


def grad_and_value(func, argnums=0, has_aux=False):
    """A function returning (gradient, value) of a scalar-valued `func` with respect to args[argnums]
    (a tuple of gradients for a tuple of argnums); with has_aux=True, (gradient, (value, aux))."""
    name = "grad_and_value(f)(*args)"

    def wrapper(*args, **kwargs):
        indices = _argnums(argnums, args, name)
        run = _Recorded(func, args, kwargs, indices, has_aux, name)
        out = run.output
        if not isinstance(out, Tensor):
            raise RuntimeError(f"{name}: Expected f(*args) to return a Tensor, got {type(out)}")
        if out.ndim != 0:
            raise RuntimeError(f"{name}: Expected f(*args) to return a scalar Tensor, got tensor with "
                               f"{out.ndim} dims. Maybe you wanted to use the vjp or jacrev APIs instead?")
        grads = run.structured(run.pull_back([out._ones_like()]))
        grads = grads[0] if isinstance(argnums, int) else grads
        return (grads, (run.value(), run.aux)) if has_aux else (grads, run.value())
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """A function returning d func / d args[argnums] for a scalar-valued `func` (with has_aux=True,
    (gradient, aux))."""
    value_and_grad = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        grads, value = value_and_grad(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads
    return wrapper


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """(func(*primals), J·tangents) in one forward pass through every op's JVP rule; with has_aux=True
    func returns (output, aux) and jvp returns (output, jvp_out, aux)."""
    for argument, value in (("primals", primals), ("tangents", tangents)):
        if not isinstance(value, tuple):
            raise RuntimeError(f"jvp(f, primals, tangents): Expected {argument} to be a tuple. E.g. it should "
                               "be valid to call f(*primals).")
    if not (has_aux or strict):
        return _jvp(func, primals, tangents)
    aux = []

    def checked(*args):
        output = func(*args)
        if has_aux:
            output, extra = _split_aux(output, "jvp(f, primals, tangents)")
            aux.append(extra)
        if strict and any(isinstance(o, Tensor) and o._tangent is None for o in _leaves(output)):
            raise RuntimeError("jvp(f, primals, tangents, strict=True): The output of f is independent of the "
                               "inputs. This is not allowed with strict=True.")
        return output
    result = _jvp(checked, primals, tangents)
    return (*result, aux[0]) if has_aux else result


def linearize(func, *primals):
    """(func(*primals), jvp_fn) where jvp_fn(*tangents) is the JVP at `primals`. jvp_fn runs func's
    forward pass again with the tangents (minigrad does not trace func once, as PyTorch does)."""
    output = func(*primals)

    def jvp_fn(*tangents):
        return _jvp(func, primals, tangents)[1]
    return output, jvp_fn


def _jacobian_inputs(args, argnums, name):
    indices = _argnums(argnums, args, name)
    inputs = [leaf for i in indices for leaf in _leaves(args[i])]
    for n, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise ValueError(f"{name}: Thing passed to transform API must be Tensor, got {type(x)} (input {n})")
        if not x.dtype.is_floating_point:
            raise RuntimeError(f"{name}: only Tensors of floating point dtype can be differentiated, got "
                               f"{x.dtype} (input {n})")
    return indices, inputs


def _basis(tensors):
    """Rows of the identity over all elements of `tensors`, split into one (N, *shape) block each."""
    total = sum(t.numel() for t in tensors)
    rows = eye(total, dtype=tensors[0].dtype, device=tensors[0].device)
    blocks, start = [], 0
    for t in tensors:
        blocks.append(rows[:, start:start + t.numel()].reshape((total,) + tuple(t.shape)).to(t.dtype))
        start += t.numel()
    return blocks


def _split_rows(batched, tensors):
    """batched (N, *rest), N = all elements of `tensors`: one (*t.shape, *rest) block per tensor."""
    blocks, start = [], 0
    for t in tensors:
        blocks.append(batched[start:start + t.numel()].reshape(tuple(t.shape) + tuple(batched.shape[1:])))
        start += t.numel()
    return blocks


def _per_argnum(args, indices, argnums, blocks):
    """Blocks (one per input leaf) in the structure of args[argnums]."""
    blocks = iter(blocks)
    per_arg = tuple(_rebuild(args[i], blocks) for i in indices)
    return per_arg[0] if isinstance(argnums, int) else per_arg


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None):
    """A function computing the Jacobian of `func` with respect to args[argnums] by reverse mode: one
    VJP per output element, all at once through vmap. Each output's Jacobian has shape
    output.shape + input.shape. Cheap when outputs are few (wide Jacobians)."""
    name = "jacrev(f)(*args)"

    def wrapper(*args, **kwargs):
        indices, _ = _jacobian_inputs(args, argnums, name)
        run = _Recorded(func, args, kwargs, indices, has_aux, name)
        outputs = _leaves(run.output)
        grads = vmap(run.pull_back, chunk_size=chunk_size)(_basis(outputs))
        by_input = [_split_rows(g, outputs) for g in grads]  # by_input[j][k]: d output k / d input j
        jac = [_per_argnum(args, indices, argnums, [blocks[k] for blocks in by_input]) for k in range(len(outputs))]
        result = _rebuild(run.output, iter(jac))
        return (result, run.aux) if has_aux else result
    return wrapper


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """A function computing the Jacobian of `func` with respect to args[argnums] by forward mode: one
    JVP per input element, all at once through vmap. Each output's Jacobian has shape
    output.shape + input.shape. Cheap when inputs are few (tall Jacobians)."""
    name = "jacfwd(f)(*args)"

    def wrapper(*args, **kwargs):
        indices, inputs = _jacobian_inputs(args, argnums, name)
        aux = []

        def of_inputs(*xs):
            xs = iter(xs)
            output = func(*[(_rebuild(a, xs) if i in indices else a) for i, a in enumerate(args)], **kwargs)
            if has_aux:
                output, extra = _split_aux(output, name)
                aux.append(extra)
            return output

        def push(*tangents):
            return _jvp(of_inputs, tuple(inputs), tangents)

        output, tangents = vmap(push, out_dims=(None, 0), randomness=randomness)(*_basis(inputs))
        outputs, tangents = _leaves(output), _leaves(tangents)
        jac = []
        for out, tangent in zip(outputs, tangents):
            blocks = [_move_last(block, len(x.shape)) for block, x in zip(_split_rows(tangent, inputs), inputs)]
            jac.append(_per_argnum(args, indices, argnums, blocks))
        result = _rebuild(output, iter(jac))
        return (result, aux[0]) if has_aux else result
    return wrapper


def _move_last(block, count):
    """(*in, *out) -> (*out, *in), where `in` is the first `count` dims."""
    order = list(range(count, block.ndim)) + list(range(count))
    return block.permute(order)


def hessian(func, argnums=0):
    """The Hessian of a scalar-valued `func` with respect to args[argnums], forward over reverse:
    jacfwd(jacrev(func))."""
    return jacfwd(jacrev(func, argnums), argnums)


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False):
    """module(*args, **kwargs) run with the parameters and buffers named in `parameter_and_buffer_dicts`
    (a dict, or a sequence of dicts) in place of its own, which are restored afterwards; so transforms can
    differentiate with respect to them. With tie_weights, a value given for one of several names of a
    shared parameter replaces it under all of them."""
    dicts = parameter_and_buffer_dicts
    if isinstance(dicts, dict):
        dicts = (dicts,)
    elif not (isinstance(dicts, (tuple, list)) and all(isinstance(d, dict) for d in dicts)):
        raise ValueError(f"Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of dicts, but got "
                         f"{type(parameter_and_buffer_dicts)}")
    values = {}
    for d in dicts:
        repeated = sorted(set(values) & set(d))
        if repeated:
            raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of functional call is "
                             "ambiguous")
        values.update(d)
    known = {f"{prefix}.{name}" if prefix else name: tensor
             for prefix, owner in module.named_modules()
             for table in (owner._parameters, owner._buffers)
             for name, tensor in table.items() if tensor is not None}
    if tie_weights:
        values = _tied(known, values)
    if strict:
        missing = sorted(set(known) - set(values))
        unexpected = sorted(set(values) - set(known))
        if missing or unexpected:
            lines = ([f"\tUnexpected key(s): {', '.join(repr(k) for k in unexpected)}."] if unexpected else []) + \
                    ([f"\tMissing key(s): {', '.join(repr(k) for k in missing)}."] if missing else [])
            raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}:\n" + "\n".join(lines))
    args = () if args is None else args if isinstance(args, tuple) else (args,)
    saved = [_swap(module, name, value) for name, value in values.items()]
    try:
        return module(*args, **(kwargs or {}))
    finally:
        for owner, table, attribute, old in reversed(saved):
            if table is None:
                delattr(owner, attribute)
            else:
                table[attribute] = old


def _tied(known, values):
    """`values` extended to every name of a shared parameter or buffer; different values for one raise."""
    names_of = {}
    for name, tensor in known.items():
        names_of.setdefault(id(tensor), []).append(name)
    values = dict(values)
    for names in names_of.values():
        given = [n for n in names if n in values]
        if len(given) > 1 and any(values[n] is not values[given[0]] for n in given):
            raise ValueError(f"functional_call got multiple values for keys {given}, which are tied. Consider "
                             "using tie_weights=False")
        if given:
            values.update(dict.fromkeys(names, values[given[0]]))
    return values


def _swap(module, name, value):
    """Put `value` in place of module's parameter or buffer `name`; (owner, table, attribute, old) to undo."""
    *path, attribute = name.split(".")
    owner = module
    for part in path:
        owner = owner._modules[part]
    for table in (owner._parameters, owner._buffers):
        if attribute in table:
            old = table[attribute]
            table[attribute] = value
            return owner, table, attribute, old
    object.__setattr__(owner, attribute, value)
    return owner, None, attribute, None
