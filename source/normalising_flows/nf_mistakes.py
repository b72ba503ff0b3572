"""The mistake catalogue of the normalising flows assignment: what each common mistake is, how the checks
recognise it, what the student is told, and where the notes explain it.

Ships with the student release next to ``nf_checks.py``, which re-exports ``MISTAKES`` and ``mistake``.
"""
from checks_core import catalogued


#: The catalogue of common mistakes. Each entry: the graded item, how the checks recognise it, what the
#: student is told, and where the notes explain it. The checks raise ``mistake(id)``; feedback and the
#: instructor report count them by id.
MISTAKES = {
    "shape-keeps-event-dims": dict(
        item="predicted_log_prob_shape", recognised="the prediction is the true shape plus the event size",
        message="your prediction keeps the event dimension. log_prob returns one number per event, so the "
                "event_shape of mvn3 is removed from the result",
        section="3. Distributions, the (sample_shape, batch_shape, event_shape) order"),
    "shape-is-input-shape": dict(
        item="predicted_log_prob_shape", recognised="the prediction equals test_pts.shape",
        message="your prediction is the shape of test_pts itself. Broadcast test_pts against batch_shape + "
                "event_shape of mvn3, then drop the event dimensions",
        section="3. Distributions, broadcasting in log_prob"),
    "shape-not-a-tuple": dict(
        item="predicted_log_prob_shape", recognised="the value is not a tuple of ints",
        message="write the prediction as a tuple of ints, e.g. (4, 2), not a list, a TensorShape or a tensor "
                "(its value is graded separately)",
        section="Exercise 1"),
    "bernoulli-probs-of-zero": dict(
        item="independent_bernoulli", recognised="log_prob of each outcome x equals the reference at 1 - x",
        message="the probabilities are the wrong way round: 0.9, 0.7 and 0.5 are P(X_i = 0), but "
                "tfd.Bernoulli's `probs` is P(X_i = 1). Pass 1 - p (or use logits)",
        section="3. Distributions, the Independent distribution"),
    "bernoulli-missing-independent": dict(
        item="independent_bernoulli", recognised="batch_shape [3] and event_shape []",
        message="event_shape is [] but should be [3]: this is a batch of three separate Bernoullis. Wrap it in "
                "tfd.Independent so the three make one event",
        section="3. Distributions, the Independent distribution"),
    "mvn-sigma-as-cholesky": dict(
        item="mvn_transformed", recognised="log_prob matches N(mu, L L^T) with L = Sigma or its lower triangle",
        message="Sigma was passed where its Cholesky factor belongs, so the covariance is L L^T for the wrong L. "
                "Use scale_tril=tf.linalg.cholesky(Sigma)",
        section="3. Distributions, MultivariateNormalTriL"),
    "mvn-base-not-standard": dict(
        item="mvn_transformed", recognised="the base's log_prob differs from N(0, I) at the test points",
        message="the base distribution of `mvn_transformed` is not N(0, I): the exercise asks for a zero-mean, "
                "identity-covariance base, with mu and Sigma supplied by the bijector",
        section="Exercise 3"),
    "mvn-base-batch-of-scalars": dict(
        item="mvn_transformed", recognised="the base has batch_shape [2] and event_shape []",
        message="the base distribution is a batch of two scalar normals (event_shape []), not one distribution on "
                "R^2, so the bijector's 2-vectors have no event to act on. Use tfd.MultivariateNormalDiag("
                "loc=tf.zeros(2)), or tfd.Sample(tfd.Normal(0., 1.), sample_shape=2)",
        section="3. Distributions, the Independent distribution"),
    "mvn-missing-shift": dict(
        item="mvn_transformed", recognised="log_prob matches N(0, Sigma) or N(-mu, Sigma)",
        message="the mean is wrong: after scaling by the Cholesky factor, shift by +mu (tfb.Shift(mu), applied "
                "after the scale: Chain([Shift(mu), ScaleMatvecTriL(L)]))",
        section="4. Bijectors, Chain and TransformedDistribution"),
    "mvn-not-transformed": dict(
        item="mvn_transformed", recognised="mvn_transformed is not a TransformedDistribution",
        message="`mvn_transformed` must be a tfd.TransformedDistribution (or a bijector called on the base "
                "distribution), not a ready-made Gaussian",
        section="4. Bijectors, TransformedDistribution"),
    "acl-logdet-ignores-mask": dict(
        item="affine_coupling_layer", recognised="the log-det equals the sum of log_scale over all D entries",
        message="the log-det ignores the mask: it sums log_scale over all D entries, but the entries with b = 1 "
                "pass through unchanged and contribute 0. Multiply log_scale by (1 - b) before summing",
        section="5. NICE and RealNVP, masks instead of splits"),
    "acl-inverse-exp-sign": dict(
        item="affine_coupling_layer", recognised="inverse matches the formula with exp(+log_scale)",
        message="inverse multiplies by exp(+log_scale); undoing the forward scale needs exp(-log_scale)",
        section="5. NICE and RealNVP, equation (15)"),
    "acl-inverse-unmasked-input": dict(
        item="affine_coupling_layer", recognised="inverse matches the formula with the network fed y, not b*y",
        message="inverse feeds the unmasked input to the network: call shift_and_log_scale_fn(b * y). The network "
                "must see only the entries that pass through unchanged, which are the same in x and y, so that "
                "inverse recovers the scale and shift forward used",
        section="5. NICE and RealNVP, masks instead of splits"),
    "acl-unmasked-conditioner": dict(
        item="affine_coupling_layer", recognised="forward matches the formula with the network fed x, not b*x "
                                                  "(and inverse with it fed y)",
        message="the network is fed the whole input instead of the masked one: call shift_and_log_scale_fn(b * x) "
                "in forward and shift_and_log_scale_fn(b * y) in inverse. Only the entries that pass through "
                "unchanged may condition the scale and shift, or inverse cannot recover the same scale and shift",
        section="5. NICE and RealNVP, masks instead of splits"),
    "acl-ildj-sign": dict(
        item="affine_coupling_layer", recognised="inverse_log_det_jacobian(y) equals +sum (1-b) s(b*y)",
        message="_inverse_log_det_jacobian has the wrong sign: the inverse map divides by exp(log_scale), so its "
                "log-det is -sum (1-b) * log_scale, the negative of the forward one at the same point",
        section="6. Subclassing bijectors"),
    "acl-logdet-batch-sum": dict(
        item="affine_coupling_layer", recognised="the log-det is one number (or the batch total for every example)",
        message="the log-det is summed over the batch axis: there should be one value per example. Sum "
                "log_scale over the last axis only (axis=-1)",
        section="6. Subclassing bijectors, forward_min_event_ndims"),
    "acl-swapped-convention": dict(
        item="affine_coupling_layer", recognised="forward matches the inverse formula (and vice versa)",
        message="forward and inverse are swapped: forward must compute equation (14), y = b*x + (1-b)*(x*exp(s) + t) "
                "(multiply by exp(+log_scale), then add the shift), and inverse must undo it with equation (15). In "
                "TFP, forward is the sampling direction (latent to data)",
        section="5. NICE and RealNVP, which formula is forward"),
    "acl-inverted-mask": dict(
        item="affine_coupling_layer", recognised="forward matches the formula with the mask 1 - b",
        message="the mask is used the other way round: entries with b = 1 must pass through unchanged, and the "
                "entries with b = 0 are scaled and shifted",
        section="Exercise 4"),
    "acl-min-event-ndims": dict(
        item="affine_coupling_layer", recognised="forward_min_event_ndims is not 1",
        message="pass forward_min_event_ndims=1 to super().__init__: the layer acts on vectors, so one event is "
                "the last axis",
        section="6. Subclassing bijectors"),
    "acl-returns-numpy": dict(
        item="affine_coupling_layer", recognised="forward or inverse returns a NumPy array",
        message="the layer returns NumPy arrays; return tf tensors (use tf ops, not np, inside the hooks), or "
                "gradients cannot flow and the flow cannot be trained",
        section="6. Subclassing bijectors"),
    "acl-clips-log-scale": dict(
        item="affine_coupling_layer", recognised="forward matches the formula with log_scale clipped to [-1, 1] or "
                                                  "squashed by tanh, on a conditioner whose log-scales reach +-3",
        message="the layer clips or squashes the network's log_scale before using it. Use log_scale exactly as "
                "shift_and_log_scale_fn returns it: any limit on the scales belongs in the network (the notebook's "
                "network ends in tanh), not in the coupling layer",
        section="5. NICE and RealNVP, the affine coupling"),
    "acl-numpy-in-layer": dict(
        item="affine_coupling_layer", recognised="no gradient reaches the conditioner's weights through forward "
                                                  "or inverse, while the values are right",
        message="forward or inverse cuts the gradient to the network's weights: the values are right, but "
                "something in the way (a NumPy function such as np.exp, .numpy(), or tf.stop_gradient) keeps "
                "training from updating the network, and NumPy also fails inside tf.function. Use TensorFlow ops "
                "(tf.exp, ...) on tensors in every hook",
        section="6. Subclassing bijectors"),
    "acl-numpy-in-logdet": dict(
        item="affine_coupling_layer", recognised="no gradient reaches the conditioner's weights through the "
                                                  "log-det-Jacobians, while their values are right",
        message="the log-det-Jacobian is cut off from the network (.numpy(), a NumPy function, or "
                "tf.stop_gradient): its value is right, but training gets no gradient from it, and NumPy fails "
                "inside tf.function. Keep it a tensor expression, e.g. tf.reduce_sum((1 - b) * log_scale, axis=-1)",
        section="6. Subclassing bijectors"),
    "acl-stop-gradient-input": dict(
        item="affine_coupling_layer", recognised="the weights' gradients are right but the gradient with respect "
                                                  "to the input misses the path through the network",
        message="no gradient flows through the network's input (tf.stop_gradient, or a NumPy round trip, on b*x). "
                "In a chain of layers the earlier layers then learn from a wrong gradient: feed b*x to "
                "shift_and_log_scale_fn as a plain tensor",
        section="6. Subclassing bijectors"),
    "acl-fails-in-graph": dict(
        item="affine_coupling_layer", recognised="forward or log_prob raises inside tf.function with an unknown "
                                                  "batch size, while eager mode works",
        message="the layer works eagerly but fails inside tf.function, where the batch size is unknown (None) and "
                "tensors have no values yet. Keras' fit and any compiled training step run it that way: use "
                "tf.shape(x) instead of x.shape for sizes, and tensor ops instead of Python conditions on tensors",
        section="6. Subclassing bijectors"),
    "acl-mask-not-cast": dict(
        item="affine_coupling_layer", recognised="construction or forward fails for a mask given as a list, an "
                                                  "integer array or a tensor",
        message="the layer only works with a float32 NumPy mask. The contract allows a list, integer arrays and "
                "tensors too: convert it once in __init__ with self.b = tf.cast(mask, tf.float32)",
        section="Exercise 4"),
    "acl-kwargs-dropped": dict(
        item="affine_coupling_layer", recognised="AffineCouplingLayer(..., name=...) fails or ignores the name",
        message="__init__ must accept **kwargs and pass them on: super().__init__(forward_min_event_ndims=1, "
                "**kwargs). The flow names each layer with name=",
        section="6. Subclassing bijectors"),
    "acl-logdet-fixed-axis": dict(
        item="affine_coupling_layer", recognised="on a [3, 4, D] batch the log-det sums over axis 1 (or keeps the "
                                                  "wrong axes)",
        message="the log-det sums over a fixed axis (axis=1) instead of the last one: on a batch of rank 3 it "
                "adds up examples. Sum over axis=-1, the event axis, whatever the batch rank",
        section="6. Subclassing bijectors, forward_min_event_ndims"),
    "ldj-fldj-twice": dict(
        item="log_det_jacobians", recognised="neg_ildj was computed without calling inverse_log_det_jacobian",
        message="neg_ildj must come from the inverse map: -bijector.inverse_log_det_jacobian(bijector.forward(x), "
                "event_ndims=1). Built from forward_log_det_jacobian alone, the two numbers agree by construction "
                "and check nothing",
        section="Exercise 5"),
    "ldj-sign": dict(
        item="log_det_jacobians", recognised="neg_ildj equals +inverse_log_det_jacobian(forward(x))",
        message="neg_ildj has the wrong sign: negate inverse_log_det_jacobian",
        section="Exercise 5"),
    "ldj-at-x": dict(
        item="log_det_jacobians", recognised="neg_ildj equals -inverse_log_det_jacobian(x) for a bijector where it matters",
        message="neg_ildj is evaluated at x; evaluate inverse_log_det_jacobian at the point forward(x)",
        section="Exercise 5"),
    "bimodal-batch-not-mixture": dict(
        item="bimodal_base_distribution", recognised="batch_shape [2] and event_shape [2]",
        message="this is a batch of two Gaussians, not one distribution with two modes. Combine them with "
                "tfd.MixtureSameFamily (a Categorical over the two components)",
        section="Exercise 6"),
    "bimodal-one-mode": dict(
        item="bimodal_base_distribution", recognised="the density on a grid has fewer than two clear peaks",
        message="the density has only one clear mode; place two components far enough apart (relative to their "
                "scales) that the density dips between them",
        section="Exercise 6"),
}


def mistake(mistake_id, detail=""):
    """A CheckFailure for one of this assignment's catalogued mistakes."""
    return catalogued(MISTAKES, mistake_id, detail)
