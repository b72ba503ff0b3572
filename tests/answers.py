"""Answers that test_fairness runs in place of a student's cell: correct answers in unusual styles (each must get
full marks for its item) and realistic bugs that are not in the mistake catalogue (each must lose points in its
own item only). tests/reports/test_similarity.py assembles independent students from the correct styles.

{name: (item, source)}; the source runs in a copy of the solutions' namespace.
"""


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
    # exercise 6: a broad and a tight component (the case), unequal weights, vertical modes, tfd.Mixture
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
