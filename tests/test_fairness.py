"""Fair grades: each mistake is charged once, every correct form is accepted, and bugs lose points where they are.

* The whole mistake catalogue of both assignments: each catalogued mistake fails exactly one test cell, in its
  own item: the first check of the item that names it. The item's later checks judge the rest of the answer as
  the student wrote it (``autograder.checks.earlier_mistakes``), so nothing is charged twice, and a composed
  item (the multiscale flow) is graded on the grader's own parts where the student's fail their own checks.
* Correct answers written in unusual styles get full marks for their item.
* Realistic bugs, none of them in the catalogue, lose points in the item they belong to, and only there.

Each answer is Python source run in a copy of the solutions' namespace, in place of the student's cell.
"""
import textwrap

import pytest
from conftest import item_score, run_test_cell, solution_cell

from autograder import checks, course, notebooks, reference
from autograder.authoring import examples

NF, MS = "normalising_flows", "realnvp_multiscale"


@pytest.fixture(scope="module")
def ms_session(ms_solution_ns_session):
    return ms_solution_ns_session


def namespaces(solution_ns_session, ms_session):
    return {NF: solution_ns_session, MS: ms_session}


def all_failures(assignment, ns):
    """{test cell: (message, mistake id)} over every graded test cell of the assignment."""
    return {t: out for t in course.test_ids(assignment) if (out := run_test_cell(t, ns, assignment)) is not None}


def with_source(base, code):
    ns = dict(base)
    exec(textwrap.dedent(code), ns)
    return ns


def with_mistake(assignment, base, mistake):
    """The solutions' namespace with every solution cell re-run (mistake applied), as in one notebook run:
    later classes (the multiscale flow) then see the changed parts, as a student's notebook would."""
    ns = dict(base)
    nb = examples.apply(examples.notebook("source", assignment), mistake)
    for cell in nb.cells:
        if notebooks.grade_meta(cell).get("grade_id") in course.items(assignment):
            exec("\n".join(ln for ln in cell.source.splitlines() if "SOLUTION" not in ln), ns)
    return ns


# ---- the whole catalogue: each mistake is charged in one item ---------------------------------------------
CATALOGUE = [(a, m) for a in (NF, MS) for m in sorted(examples.EDITS[a])]


def test_every_catalogued_mistake_has_an_example_that_fails_one_cell():
    for a in (NF, MS):
        assert set(examples.EDITS[a]) == set(course.protocol(a).MISTAKES), a
        for mistake_id, mistake in examples.EDITS[a].items():
            # one cell per property the mistake breaks: one, except a missing TransformedDistribution, which has
            # no base either (it must not cost less than a wrong base: tests/test_monotone.py)
            assert len(mistake.failing) == (2 if mistake_id == "mvn-not-transformed" else 1), mistake_id


@pytest.mark.parametrize("assignment, mistake_id", CATALOGUE, ids=[f"{a}/{m}" for a, m in CATALOGUE])
def test_each_catalogued_mistake_costs_one_check(assignment, mistake_id, solution_ns_session, ms_session):
    """The mistake fails one test cell of its own item, and that cell's message names it first; every other
    check of every item passes."""
    base = namespaces(solution_ns_session, ms_session)[assignment]
    mistake = examples.EDITS[assignment][mistake_id]
    failed = all_failures(assignment, with_mistake(assignment, base, mistake))
    item = course.protocol(assignment).MISTAKES[mistake_id]["item"]
    assert set(failed) == set(mistake.failing), failed
    test_id = next(t for t in course.test_ids(assignment) if t in failed)  # the first failing cell names it
    message, named = failed[test_id]
    assert all(course.item_of(assignment, t) == item for t in failed)
    assert named == mistake_id, failed
    entry = course.protocol(assignment).MISTAKES[mistake_id]
    assert message.startswith(entry["message"]), message  # the mistake is named first, before any detail
    assert "{{function_node" not in message and "[Op:" not in message, message  # never raw TF error text


def test_no_check_repeats_another_checks_message(solution_ns_session, ms_session):
    """Over the catalogue and the non-catalogued faults, two failing checks never say the same thing."""
    cases = [(a, m) for a, m in CATALOGUE] + [(NF, "cache trap")]
    for assignment, mistake_id in cases:
        base = namespaces(solution_ns_session, ms_session)[assignment]
        mistake = examples.CACHE_TRAP if mistake_id == "cache trap" else examples.EDITS[assignment][mistake_id]
        failed = all_failures(assignment, with_mistake(assignment, base, mistake))
        messages = [m.split(" (")[0] for m, _ in failed.values()]
        assert len(messages) == len(set(messages)), (mistake_id, failed)


def notes_after_the_contract(base, mistake_id, *cells):
    """With ``mistake_id`` made, the contract check fails; then the notes of ``cells``, run in order."""
    ns = with_mistake(NF, base, examples.EDITS[NF][mistake_id])
    protocol = course.protocol(NF)
    ask, ref = protocol.local_asker(ns), reference.load_reference(NF)
    with protocol.quiet():
        with pytest.raises(protocol.CheckFailure):
            checks.run_test_cell(NF, "affine_coupling_layer_contract", ask, ref)
        return [checks.run_test_cell(NF, cell, ask, ref) for cell in cells]


def test_a_later_check_that_follows_through_says_so(solution_ns_session):
    """After the contract check names the inverted mask, the forward check passes on the layer as written and
    says which mistake it took as given, and where that mistake was charged."""
    note, other = notes_after_the_contract(solution_ns_session, "acl-inverted-mask", "affine_coupling_layer_forward",
                                           "log_det_jacobians_visible")
    assert other == ""  # nothing charged there
    assert "acl-inverted-mask" in note and "affine_coupling_layer_contract" in note


def test_a_note_names_a_charged_mistake_only_where_it_was_followed_through(solution_ns_session):
    """exp(+s) in the inverse touches the inverse only: the forward check, which judged nothing under it, says
    nothing of it; the inverse check, which accepted the inverse as written, says so."""
    forward, inverse = notes_after_the_contract(solution_ns_session, "acl-inverse-exp-sign",
                                                "affine_coupling_layer_forward", "affine_coupling_layer_inverse")
    assert forward == ""
    assert "acl-inverse-exp-sign" in inverse and "affine_coupling_layer_contract" in inverse


# ---- correct answers in unusual styles: full marks -------------------------------------------------------
ACL_HEAD = """
class AffineCouplingLayer(tfb.Bijector):
    def __init__(self, shift_and_log_scale_fn, mask, **kwargs):
        super().__init__(forward_min_event_ndims=1, **kwargs)
        self.shift_and_log_scale_fn = shift_and_log_scale_fn
        self.b = tf.cast(mask, tf.float32)
"""

CORRECT = {
    # exercise 1: the prediction as a tuple of numpy ints, or built by broadcasting
    "shape-numpy-ints": ("predicted_log_prob_shape", "predicted_log_prob_shape = tuple(np.int64(v) for v in (5, 1, 2))"),
    "shape-by-broadcasting": ("predicted_log_prob_shape",
                              "predicted_log_prob_shape = tuple(int(d) for d in np.broadcast_shapes((5, 1, 2, 1), "
                              "(1, 2, 3))[:-1])"),
    "shape-from-tensorshape": ("predicted_log_prob_shape",
                               "predicted_log_prob_shape = tuple(tf.TensorShape([5, 1, 2]).as_list())"),
    # exercise 2: logits instead of probs; probabilities computed from P(0)
    "bernoulli-logits": ("independent_bernoulli", """
        p1 = np.array([0.1, 0.3, 0.5])
        independent_bernoulli = tfd.Independent(tfd.Bernoulli(logits=np.log(p1 / (1 - p1)).astype('float32')),
                                                 reinterpreted_batch_ndims=1)"""),
    "bernoulli-one-minus": ("independent_bernoulli", """
        p0 = tf.constant([0.9, 0.7, 0.5])
        independent_bernoulli = tfd.Independent(tfd.Bernoulli(probs=1. - p0), 1)"""),
    # exercise 3: explicit Cholesky numbers, a tfd.Sample base, bijector composition by calling
    "mvn-explicit-cholesky": ("mvn_transformed", """
        L = np.array([[np.sqrt(2.), 0.], [1. / np.sqrt(2.), np.sqrt(1.5)]], dtype='float32')
        mvn_tril = tfd.MultivariateNormalTriL(loc=[0.5, -0.5], scale_tril=L)
        mvn_transformed = tfd.TransformedDistribution(tfd.Sample(tfd.Normal(0., 1.), sample_shape=2),
                                                      tfb.Shift([0.5, -0.5])(tfb.ScaleMatvecTriL(L)))"""),
    "mvn-numpy-cholesky": ("mvn_transformed", """
        Sigma = np.array([[2., 1.], [1., 2.]])
        chol = np.linalg.cholesky(Sigma).astype(np.float32)
        mvn_tril = tfd.MultivariateNormalTriL(loc=np.array([0.5, -0.5], np.float32), scale_tril=chol)
        mvn_transformed = tfd.TransformedDistribution(
            distribution=tfd.MultivariateNormalDiag(loc=[0., 0.], scale_diag=[1., 1.]),
            bijector=tfb.Chain([tfb.Shift(np.array([0.5, -0.5], np.float32)), tfb.ScaleMatvecTriL(chol)]))"""),
    # exercise 4: tf.where instead of mask arithmetic, the paper's names, division instead of exp(-s)
    "acl-tf-where": ("affine_coupling_layer", ACL_HEAD + """
    def _forward(self, x):
        t, s = self.shift_and_log_scale_fn(self.b * x)
        return tf.where(self.b > 0.5, x, x * tf.exp(s) + t)
    def _inverse(self, y):
        t, s = self.shift_and_log_scale_fn(self.b * y)
        return tf.where(self.b > 0.5, y, (y - t) / tf.exp(s))
    def _forward_log_det_jacobian(self, x):
        _, s = self.shift_and_log_scale_fn(self.b * x)
        return tf.reduce_sum(tf.where(self.b > 0.5, tf.zeros_like(s), s), axis=-1)
    def _inverse_log_det_jacobian(self, y):
        _, s = self.shift_and_log_scale_fn(self.b * y)
        return -tf.reduce_sum(tf.where(self.b > 0.5, tf.zeros_like(s), s), axis=-1)
"""),
    # no _inverse_log_det_jacobian at all: TFP derives it as -fldj(inverse(y))
    "acl-tfp-derives-ildj": ("affine_coupling_layer", ACL_HEAD + """
    def _forward(self, x):
        t, s = self.shift_and_log_scale_fn(self.b * x)
        return self.b * x + (1. - self.b) * (x * tf.exp(s) + t)
    def _inverse(self, y):
        t, s = self.shift_and_log_scale_fn(self.b * y)
        return self.b * y + (1. - self.b) * (y - t) * tf.exp(-s)
    def _forward_log_det_jacobian(self, x):
        _, s = self.shift_and_log_scale_fn(self.b * x)
        return tf.reduce_sum((1. - self.b) * s, axis=-1)
"""),
    "acl-paper-names-einsum": ("affine_coupling_layer", """
class AffineCouplingLayer(tfb.Bijector):
    def __init__(self, shift_and_log_scale_fn, mask, name="affine_coupling", **kwargs):
        super().__init__(forward_min_event_ndims=1, name=name, **kwargs)
        self.st = shift_and_log_scale_fn
        self.mask = np.asarray(mask, dtype=np.float32)
        self.keep = 1. - self.mask
    def _forward(self, z):
        z_masked = self.mask * z
        t, s = self.st(z_masked)
        return z_masked + self.keep * (z * tf.math.exp(s) + t)
    def _inverse(self, x):
        x_masked = self.mask * x
        t, s = self.st(x_masked)
        return x_masked + self.keep * tf.math.exp(-s) * (x - t)
    def _forward_log_det_jacobian(self, z):
        return tf.einsum('...d,d->...', self.st(self.mask * z)[1], self.keep)
    def _inverse_log_det_jacobian(self, x):
        return -self._forward_log_det_jacobian(x)  # the network sees the same masked half
"""),
    "acl-convert-to-tensor": ("affine_coupling_layer", """
class AffineCouplingLayer(tfb.Bijector):
    def __init__(self, shift_and_log_scale_fn, mask, **kwargs):
        kwargs.setdefault("validate_args", False)
        super().__init__(forward_min_event_ndims=1, **kwargs)
        self.fn = shift_and_log_scale_fn
        self.b = tf.cast(tf.convert_to_tensor(mask), tf.float32)
    def _st(self, v):
        shift, log_scale = self.fn(self.b * v)
        return shift, log_scale
    def _forward(self, x):
        t, s = self._st(x)
        return x + (1. - self.b) * (x * tf.math.expm1(s) + t)
    def _inverse(self, y):
        t, s = self._st(y)
        return y - (1. - self.b) * (y - (y - t) * tf.exp(-s))
    def _forward_log_det_jacobian(self, x):
        return tf.reduce_sum((1. - self.b) * self._st(x)[1], axis=-1)
    def _inverse_log_det_jacobian(self, y):
        return tf.reduce_sum(-(1. - self.b) * self._st(y)[1], axis=-1)
"""),
    # exercise 5: positional event_ndims, tfb.Invert, calling the bijector, numpy results in a list
    "ldj-positional": ("log_det_jacobians", """
        def log_det_jacobians(bijector, x):
            return bijector.forward_log_det_jacobian(x, 1), -bijector.inverse_log_det_jacobian(bijector.forward(x), 1)"""),
    "ldj-invert": ("log_det_jacobians", """
        def log_det_jacobians(bijector, x):
            y = bijector.forward(x)
            return (bijector.forward_log_det_jacobian(x, event_ndims=1),
                    -tfb.Invert(bijector).forward_log_det_jacobian(y, event_ndims=1))"""),
    "ldj-numpy-list": ("log_det_jacobians", """
        def log_det_jacobians(bijector, x):
            y = bijector(x)
            fldj = bijector.forward_log_det_jacobian(x, event_ndims=1).numpy()
            ildj = bijector.inverse_log_det_jacobian(y, event_ndims=1).numpy()
            return [fldj, -ildj]"""),
    # exercise 6: a broad and a tight component (the issue's case), unequal weights, vertical modes, tfd.Mixture
    "bimodal-broad-and-tight": ("bimodal_base_distribution", """
        bimodal_base_distribution = tfd.MixtureSameFamily(
            tfd.Categorical(probs=[0.5, 0.5]),
            tfd.MultivariateNormalDiag(loc=[[-1.5, 0.], [1.5, 0.]], scale_diag=[[0.3, 0.3], [1.2, 1.2]]))"""),
    "bimodal-unequal-weights": ("bimodal_base_distribution", """
        bimodal_base_distribution = tfd.MixtureSameFamily(
            tfd.Categorical(probs=[0.7, 0.3]),
            tfd.MultivariateNormalDiag(loc=[[0., -2.], [0., 2.]], scale_diag=[0.7, 0.7]))"""),
    "bimodal-mixture-of-list": ("bimodal_base_distribution", """
        bimodal_base_distribution = tfd.Mixture(
            cat=tfd.Categorical(logits=[0., 0.]),
            components=[tfd.MultivariateNormalDiag(loc=[-2., -2.]), tfd.MultivariateNormalDiag(loc=[2., 2.])])"""),
    "bimodal-independent-normals": ("bimodal_base_distribution", """
        bimodal_base_distribution = tfd.MixtureSameFamily(
            mixture_distribution=tfd.Categorical(probs=[0.5, 0.5]),
            components_distribution=tfd.Independent(tfd.Normal(loc=[[-1., 1.], [1., -1.]], scale=0.4), 1))"""),
}

MS_CORRECT = {
    "preprocess-softplus": ("preprocess", """
        def preprocess(pixels, noise, alpha=ALPHA):
            u = tf.cast(pixels + noise, tf.float32)
            y = tf.math.log(alpha + (1. - 2. * alpha) * u / LEVELS) - tf.math.log(1. - alpha - (1. - 2. * alpha) * u / LEVELS)
            # dy/du = (1 - 2 alpha) / 17 / (p (1 - p)), and -log(p (1 - p)) = softplus(y) + softplus(-y)
            per_pixel = np.log((1. - 2. * alpha) / LEVELS) + tf.nn.softplus(y) + tf.nn.softplus(-y)
            return y, tf.reduce_sum(tf.reshape(per_pixel, [tf.shape(y)[0], -1]), axis=1)"""),
    "checkerboard-tf": ("checkerboard_mask", """
        def checkerboard_mask(height, width, orientation):
            i = tf.range(height)[:, None]
            j = tf.range(width)[None, :]
            return tf.cast(tf.equal((i + j + orientation) % 2, 0), tf.float64)[..., None]"""),
    "channel-concat": ("channel_mask", """
        def channel_mask(channels, orientation):
            half = channels // 2
            m = np.concatenate([np.ones(half), np.zeros(channels - half)])
            return (m if orientation == 0 else 1 - m).reshape(1, 1, channels).astype("float32")"""),
    "squeeze-space-to-depth": ("squeeze", """
        class Squeeze(tfb.Bijector):
            def __init__(self, **kwargs):
                super().__init__(forward_min_event_ndims=3, is_constant_jacobian=True, **kwargs)
            def _forward(self, x):
                s = tf.shape(x)
                y = tf.nn.space_to_depth(tf.reshape(x, tf.concat([[-1], s[-3:]], 0)), 2)
                return tf.reshape(y, tf.concat([s[:-3], tf.shape(y)[1:]], 0))
            def _inverse(self, y):
                s = tf.shape(y)
                x = tf.nn.depth_to_space(tf.reshape(y, tf.concat([[-1], s[-3:]], 0)), 2)
                return tf.reshape(x, tf.concat([s[:-3], tf.shape(x)[1:]], 0))
            def _forward_log_det_jacobian(self, x):
                return tf.zeros([], dtype=x.dtype)"""),
}


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_a_correct_answer_in_another_style_gets_full_marks(name, solution_ns_session):
    item, code = CORRECT[name]
    failed = {t: f for t, f in all_failures(NF, with_source(solution_ns_session, code)).items()
              if course.item_of(NF, t) == item}
    assert failed == {}


@pytest.mark.parametrize("name", sorted(MS_CORRECT))
def test_a_correct_multiscale_answer_in_another_style_gets_full_marks(name, ms_session):
    item, code = MS_CORRECT[name]
    failed = {t: f for t, f in all_failures(MS, with_source(ms_session, code)).items()
              if course.item_of(MS, t) == item}
    assert failed == {}


# ---- realistic bugs, none of them in the catalogue: points lost in their own item only -------------------
def acl_with(forward="return self.b * x + (1. - self.b) * (x * tf.exp(s) + t)",
             inverse="return self.b * y + (1. - self.b) * ((y - t) * tf.exp(-s))",
             fldj="return tf.reduce_sum((1. - self.b) * s, axis=-1)",
             ildj="return -tf.reduce_sum((1. - self.b) * s, axis=-1)", init=ACL_HEAD,
             fx="self.b * x", fy="self.b * y"):
    return init + f"""
    def _forward(self, x):
        t, s = self.shift_and_log_scale_fn({fx})
        {forward}
    def _inverse(self, y):
        t, s = self.shift_and_log_scale_fn({fy})
        {inverse}
    def _forward_log_det_jacobian(self, x):
        t, s = self.shift_and_log_scale_fn({fx})
        {fldj}
    def _inverse_log_det_jacobian(self, y):
        t, s = self.shift_and_log_scale_fn({fy})
        {ildj}
"""


BUGS = {
    "shape-drops-sample-dims": ("predicted_log_prob_shape", "predicted_log_prob_shape = (1, 2)"),
    "shape-batch-only": ("predicted_log_prob_shape", "predicted_log_prob_shape = [1, 2]"),
    "bernoulli-probs-as-logits": ("independent_bernoulli",
                                  "independent_bernoulli = tfd.Independent(tfd.Bernoulli(logits=[0.1, 0.3, 0.5]), 1)"),
    "bernoulli-zero-ndims": ("independent_bernoulli",
                             "independent_bernoulli = tfd.Independent(tfd.Bernoulli(probs=[0.1, 0.3, 0.5]), 0)"),
    "mvn-shift-before-scale": ("mvn_transformed", """
        chol = tf.linalg.cholesky(tf.constant([[2., 1.], [1., 2.]]))
        mvn_transformed = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(loc=tf.zeros(2)),
                                                      tfb.Chain([tfb.ScaleMatvecTriL(chol), tfb.Shift([0.5, -0.5])]))"""),
    "mvn-cholesky-by-hand-wrong": ("mvn_transformed", """
        mvn_tril = tfd.MultivariateNormalTriL(loc=[0.5, -0.5], scale_tril=[[2., 0.], [1., 2.]])"""),
    "acl-exp-in-log-det": ("affine_coupling_layer",
                           acl_with(fldj="return tf.reduce_sum((1. - self.b) * tf.exp(s), axis=-1)",
                                    ildj="return -tf.reduce_sum((1. - self.b) * tf.exp(s), axis=-1)")),
    "acl-no-pass-through": ("affine_coupling_layer",
                            acl_with(forward="return x * tf.exp(s) + t", inverse="return (y - t) * tf.exp(-s)")),
    "acl-shift-scale-order": ("affine_coupling_layer",
                              acl_with(inverse="return self.b * y + (1. - self.b) * (y * tf.exp(-s) - t)")),
    "acl-stop-gradient-on-log-scale": ("affine_coupling_layer",
                                       acl_with(forward="return self.b * x + (1. - self.b) * "
                                                        "(x * tf.exp(tf.stop_gradient(s)) + t)")),
    "acl-numpy-round-trip": ("affine_coupling_layer",
                             acl_with(fldj="return tf.constant(np.sum((1. - self.b.numpy()) * s.numpy(), axis=-1))",
                                      ildj="return -tf.constant(np.sum((1. - self.b.numpy()) * s.numpy(), axis=-1))")),
    "acl-tf-constant-mask": ("affine_coupling_layer", acl_with(init=ACL_HEAD.replace(
        "self.b = tf.cast(mask, tf.float32)", "self.b = tf.constant(mask, dtype=tf.float32)"))),
    "acl-no-kwargs-in-signature": ("affine_coupling_layer", acl_with(init=ACL_HEAD.replace(
        "mask, **kwargs):", "mask):").replace(", **kwargs)", ")"))),
    "acl-python-batch-size": ("affine_coupling_layer", acl_with(
        fldj="return tf.reshape(tf.reduce_sum((1. - self.b) * s, axis=-1), [x.shape[0]])")),
    "acl-log-det-keepdims": ("affine_coupling_layer", acl_with(
        fldj="return tf.reduce_sum((1. - self.b) * s, axis=-1, keepdims=True)",
        ildj="return -tf.reduce_sum((1. - self.b) * s, axis=-1, keepdims=True)")),
    "ldj-event-ndims-zero": ("log_det_jacobians", """
        def log_det_jacobians(bijector, x):
            return (bijector.forward_log_det_jacobian(x, event_ndims=1),
                    -bijector.inverse_log_det_jacobian(bijector.forward(x), event_ndims=0))"""),
    "ldj-inverse-instead-of-forward": ("log_det_jacobians", """
        def log_det_jacobians(bijector, x):
            return (bijector.forward_log_det_jacobian(x, event_ndims=1),
                    -bijector.inverse_log_det_jacobian(bijector.inverse(x), event_ndims=1))"""),
    "ldj-negated-fldj": ("log_det_jacobians", """
        def log_det_jacobians(bijector, x):
            fldj = bijector.forward_log_det_jacobian(x, event_ndims=1)
            return fldj, -fldj"""),
    "bimodal-nested-components": ("bimodal_base_distribution", """
        bimodal_base_distribution = tfd.MixtureSameFamily(
            tfd.Categorical(probs=[0.5, 0.5]),
            tfd.MultivariateNormalDiag(loc=[[0., 0.], [0., 0.]], scale_diag=[[0.5, 0.5], [2., 2.]]))"""),
    "bimodal-negligible-second-mode": ("bimodal_base_distribution", """
        bimodal_base_distribution = tfd.MixtureSameFamily(
            tfd.Categorical(probs=[0.97, 0.03]),
            tfd.MultivariateNormalDiag(loc=[[-2., 0.], [2., 0.]], scale_diag=[0.5, 0.5]))"""),
    "bimodal-independent-of-batch": ("bimodal_base_distribution", """
        bimodal_base_distribution = tfd.Independent(tfd.MultivariateNormalDiag(loc=[[-1.5, 0.], [1.5, 0.]]), 1)"""),
}

MS_BUGS = {
    "preprocess-log-det-sign": ("preprocess", """
        def preprocess(pixels, noise, alpha=ALPHA):
            u = tf.cast(pixels, tf.float32) + tf.cast(noise, tf.float32)
            p = alpha + (1. - 2. * alpha) * u / LEVELS
            y = tf.math.log(p) - tf.math.log1p(-p)
            log_det = tf.math.log(1. - 2. * alpha) - tf.math.log(float(LEVELS)) + tf.math.log(p) + tf.math.log1p(-p)
            return y, tf.reduce_sum(log_det, axis=[-3, -2, -1])"""),
    "preprocess-no-alpha-rescale": ("preprocess", """
        def preprocess(pixels, noise, alpha=ALPHA):
            u = tf.cast(pixels, tf.float32) + tf.cast(noise, tf.float32)
            p = alpha + u / LEVELS * (1. - alpha)
            y = tf.math.log(p) - tf.math.log1p(-p)
            log_det = tf.math.log(1. - alpha) - tf.math.log(float(LEVELS)) - tf.math.log(p) - tf.math.log1p(-p)
            return y, tf.reduce_sum(log_det, axis=[-3, -2, -1])"""),
}


def _bug_failures(assignment, base, item, code):
    failed = all_failures(assignment, with_source(base, code))
    assert failed, "the bug was not caught"
    assert {course.item_of(assignment, t) for t in failed} == {item}, failed
    return failed


@pytest.mark.parametrize("name", sorted(BUGS))
def test_a_realistic_bug_loses_points_in_its_own_item_only(name, solution_ns_session):
    item, code = BUGS[name]
    failed = _bug_failures(NF, solution_ns_session, item, code)
    for message, _ in failed.values():  # feedback in words: no raw TensorFlow error, no reference value dump
        assert "{{function_node" not in message and "[Op:" not in message, message


@pytest.mark.parametrize("name", sorted(MS_BUGS))
def test_a_realistic_multiscale_bug_loses_points_in_its_own_item_only(name, ms_session):
    item, code = MS_BUGS[name]
    _bug_failures(MS, ms_session, item, code)


def test_there_are_at_least_twenty_of_each():
    assert len(CORRECT) + len(MS_CORRECT) >= 20
    assert len(BUGS) + len(MS_BUGS) >= 20


# ---- reference values stay in the grader -----------------------------------------------------------------
def _arrays(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _arrays(v)
    elif isinstance(value, (list, tuple)):
        if value and all(isinstance(v, (int, float)) for v in value):
            yield __import__("numpy").asarray(value, dtype="float64")
        else:
            for v in value:
                yield from _arrays(v)
    elif hasattr(value, "shape") and getattr(value, "size", 0) > 1:
        yield value


@pytest.mark.parametrize("assignment", [NF, MS])
def test_no_hidden_request_sends_a_reference_value_to_student_code(assignment):
    """Every input of every hidden request is grader-chosen: none equals a stored reference answer."""
    import numpy as np
    stored = [a for a in _arrays(reference.load_reference(assignment)) if np.ndim(a) >= 1 and np.unique(a).size > 2]
    assert stored
    for item in course.items(assignment):
        for name, request in checks.item_module(assignment, item).REQUESTS.items():
            for sent in _arrays({k: v for k, v in request.items() if k not in ("op", "method", "name")}):
                assert not any(np.shape(sent) == np.shape(r) and np.allclose(sent, r) for r in stored), (item, name)


def test_the_leak_test_can_fail():
    """The same scan flags a request that sends a reference output (as the inverse check once did)."""
    import numpy as np
    stored = reference.load_reference(NF)["affine_coupling_layer"]
    leaky = {"op": "bijector", "method": "inverse", "x": next(v for k, v in stored.items() if k.startswith("forward"))}
    assert any(np.shape(s) == np.shape(r) and np.allclose(s, r) for s in _arrays(leaky) for r in _arrays(stored))


# ---- issue 25's cases, as written --------------------------------------------------------------------------
_FLDJ = "        _, s = self.shift_and_log_scale_fn(self.b * x)\n        return tf.reduce_sum((1. - self.b) * s, axis=-1)"
_ILDJ = "        _, s = self.shift_and_log_scale_fn(self.b * y)\n        return -tf.reduce_sum((1. - self.b) * s, axis=-1)"
_NEG_ILDJ = "neg_ildj = -bijector.inverse_log_det_jacobian(bijector.forward(x), event_ndims=1)"
_STUB = "        raise NotImplementedError()"


def _acl(*edits):
    src = solution_cell(examples.notebook("source", NF), "affine_coupling_layer")
    for old, new in edits:
        assert old in src
        src = src.replace(old, new)
    return src


ISSUE_CASES = {
    # (item, source, the most it may score): the issue's "done when" for each case
    "1: both log-dets stubbed (the honest stub)": ("affine_coupling_layer", lambda: _acl((_FLDJ, _STUB), (_ILDJ, _STUB)), 4),
    "1: the stub plus forward_min_event_ndims=0": (
        "affine_coupling_layer", lambda: _acl((_FLDJ, _STUB), (_ILDJ, _STUB),
                                              ("forward_min_event_ndims=1", "forward_min_event_ndims=0")), 4),
    "2: (fldj, -fldj) without the inverse": (
        "log_det_jacobians", lambda: solution_cell(examples.notebook("source", NF), "log_det_jacobians").replace(
            _NEG_ILDJ, "neg_ildj = -bijector.forward_log_det_jacobian(x, event_ndims=1)"), 2),
    "3: only fldj summed over the batch": (
        "affine_coupling_layer", lambda: _acl((_FLDJ, _FLDJ.replace(", axis=-1)", ")"))), 8),
    "5: probs of batch shape [1]": (
        "independent_bernoulli", lambda: "independent_bernoulli = tfd.Independent(tfd.Bernoulli("
                                         "probs=[[0.1, 0.3, 0.5]]), reinterpreted_batch_ndims=1)", 3),
    "6: fldj of inverse(forward(x))": (
        "log_det_jacobians", lambda: solution_cell(examples.notebook("source", NF), "log_det_jacobians").replace(
            _NEG_ILDJ, "neg_ildj = bijector.forward_log_det_jacobian(bijector.inverse(bijector.forward(x)), "
                       "event_ndims=1)"), 2),
}


@pytest.mark.parametrize("case", sorted(ISSUE_CASES))
def test_issue_25_cases_score_at_most_what_the_issue_allows(case, solution_ns_session):
    """1, 2: no more than the honest answer without the named mistake; 3, 6: one check's points; 5: the shape
    check's point only."""
    item, source, most = ISSUE_CASES[case]
    scored, total = item_score(NF, with_source(solution_ns_session, source()), item)
    assert scored <= most, (case, scored, total)
    if not case.startswith(("1:", "2:")):
        assert scored == most, (case, scored, total)  # what is right still scores
