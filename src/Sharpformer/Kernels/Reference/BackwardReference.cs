namespace Sharpformer.Kernels.Reference;

/// <summary>
/// Scalar float64 twins of the training ops: a forward and a backward each, written from the definitions, so tests
/// can check the backward against finite differences of the forward in float64 and the fast float32 kernels
/// against these. Gradient destinations accumulate (+=), as in <see cref="Backward"/>.
/// </summary>
public static class BackwardReference
{
    /// <summary>W(k, n) of a weight stored as <paramref name="layout"/>.</summary>
    private static int WeightIndex(int k, int n, int inFeatures, int outFeatures, WeightLayout layout) =>
        layout == WeightLayout.InputMajor ? k * outFeatures + n : n * inFeatures + k;

    public static void LinearForward(ReadOnlySpan<double> x, ReadOnlySpan<double> w, ReadOnlySpan<double> b, int rows, int inFeatures, int outFeatures,
        WeightLayout layout, Span<double> y)
    {
        for (int m = 0; m < rows; m++)
        {
            for (int n = 0; n < outFeatures; n++)
            {
                double sum = b.IsEmpty ? 0 : b[n];
                for (int k = 0; k < inFeatures; k++)
                {
                    sum += x[m * inFeatures + k] * w[WeightIndex(k, n, inFeatures, outFeatures, layout)];
                }
                y[m * outFeatures + n] = sum;
            }
        }
    }

    public static void LinearBackward(ReadOnlySpan<double> x, ReadOnlySpan<double> w, ReadOnlySpan<double> dy, int rows, int inFeatures, int outFeatures,
        WeightLayout layout, Span<double> dx, Span<double> dw, Span<double> db)
    {
        for (int m = 0; m < rows; m++)
        {
            for (int n = 0; n < outFeatures; n++)
            {
                double g = dy[m * outFeatures + n];
                if (!db.IsEmpty)
                {
                    db[n] += g;
                }
                for (int k = 0; k < inFeatures; k++)
                {
                    int index = WeightIndex(k, n, inFeatures, outFeatures, layout);
                    if (!dx.IsEmpty)
                    {
                        dx[m * inFeatures + k] += g * w[index];
                    }
                    if (!dw.IsEmpty)
                    {
                        dw[index] += g * x[m * inFeatures + k];
                    }
                }
            }
        }
    }

    public static void LayerNormForward(ReadOnlySpan<double> x, ReadOnlySpan<double> gamma, ReadOnlySpan<double> beta, double epsilon, int width, Span<double> y)
    {
        for (int offset = 0; offset < x.Length; offset += width)
        {
            Moments(x.Slice(offset, width), epsilon, out double mean, out double inverse);
            for (int i = 0; i < width; i++)
            {
                y[offset + i] = (x[offset + i] - mean) * inverse * gamma[i] + (beta.IsEmpty ? 0 : beta[i]);
            }
        }
    }

    public static void LayerNormBackward(ReadOnlySpan<double> x, ReadOnlySpan<double> gamma, ReadOnlySpan<double> dy, double epsilon, int width,
        Span<double> dx, Span<double> dgamma, Span<double> dbeta)
    {
        for (int offset = 0; offset < x.Length; offset += width)
        {
            Moments(x.Slice(offset, width), epsilon, out double mean, out double inverse);
            double meanG = 0, meanGx = 0;
            for (int i = 0; i < width; i++)
            {
                double normalized = (x[offset + i] - mean) * inverse;
                double g = dy[offset + i] * gamma[i];
                meanG += g / width;
                meanGx += g * normalized / width;
                if (!dgamma.IsEmpty)
                {
                    dgamma[i] += dy[offset + i] * normalized;
                }
                if (!dbeta.IsEmpty)
                {
                    dbeta[i] += dy[offset + i];
                }
            }
            for (int i = 0; i < width; i++)
            {
                double normalized = (x[offset + i] - mean) * inverse;
                dx[offset + i] += inverse * (dy[offset + i] * gamma[i] - meanG - normalized * meanGx);
            }
        }
    }

    public static void RmsNormForward(ReadOnlySpan<double> x, ReadOnlySpan<double> gamma, double epsilon, int width, Span<double> y)
    {
        for (int offset = 0; offset < x.Length; offset += width)
        {
            double inverse = RmsInverse(x.Slice(offset, width), epsilon);
            for (int i = 0; i < width; i++)
            {
                y[offset + i] = x[offset + i] * inverse * gamma[i];
            }
        }
    }

    public static void RmsNormBackward(ReadOnlySpan<double> x, ReadOnlySpan<double> gamma, ReadOnlySpan<double> dy, double epsilon, int width,
        Span<double> dx, Span<double> dgamma)
    {
        for (int offset = 0; offset < x.Length; offset += width)
        {
            double inverse = RmsInverse(x.Slice(offset, width), epsilon);
            double meanGx = 0;
            for (int i = 0; i < width; i++)
            {
                meanGx += dy[offset + i] * gamma[i] * x[offset + i] / width;
                if (!dgamma.IsEmpty)
                {
                    dgamma[i] += dy[offset + i] * x[offset + i] * inverse;
                }
            }
            for (int i = 0; i < width; i++)
            {
                dx[offset + i] += inverse * (dy[offset + i] * gamma[i] - x[offset + i] * inverse * inverse * meanGx);
            }
        }
    }

    private static double RmsInverse(ReadOnlySpan<double> row, double epsilon)
    {
        double meanSquare = 0;
        foreach (double value in row)
        {
            meanSquare += value * value / row.Length;
        }
        return 1 / Math.Sqrt(meanSquare + epsilon);
    }

    private static void Moments(ReadOnlySpan<double> row, double epsilon, out double mean, out double inverse)
    {
        mean = 0;
        foreach (double value in row)
        {
            mean += value / row.Length;
        }
        double variance = 0;
        foreach (double value in row)
        {
            variance += (value - mean) * (value - mean) / row.Length;
        }
        inverse = 1 / Math.Sqrt(variance + epsilon);
    }

    public static double GeluTanh(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

    public static double GeluTanhDerivative(double x)
    {
        double c = Math.Sqrt(2 / Math.PI);
        double t = Math.Tanh(c * (x + 0.044715 * x * x * x));
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x);
    }

    /// <summary>x·Φ(x) with Φ from the erf series (exact to float64, unlike the float32 kernel's approximation).</summary>
    public static double GeluErf(double x) => x * NormalCdf(x);

    public static double GeluErfDerivative(double x) => NormalCdf(x) + x * Math.Exp(-0.5 * x * x) / Math.Sqrt(2 * Math.PI);

    public static double Relu(double x) => Math.Max(x, 0);

    public static double ReluDerivative(double x) => x > 0 ? 1 : 0;

    private static double NormalCdf(double x) => 0.5 * (1 + Erf(x / Math.Sqrt(2)));

    /// <summary>erf by its Maclaurin series (|x| ≤ 3) or continued fraction tail, accurate to ~1e-15.</summary>
    private static double Erf(double x)
    {
        double a = Math.Abs(x);
        double result;
        if (a < 3)
        {
            double term = a, sum = a;
            for (int n = 1; n < 200 && Math.Abs(term) > 1e-17; n++)
            {
                term *= -a * a / n;
                sum += term / (2 * n + 1);
            }
            result = 2 / Math.Sqrt(Math.PI) * sum;
        }
        else
        {
            double fraction = 0;
            for (int n = 60; n >= 1; n--)
            {
                fraction = n / 2.0 / (a + fraction);
            }
            result = 1 - Math.Exp(-a * a) / Math.Sqrt(Math.PI) / (a + fraction);
        }
        return x < 0 ? -result : result;
    }

    public static void EmbeddingForward(ReadOnlySpan<double> table, int width, ReadOnlySpan<int> ids, Span<double> y)
    {
        for (int i = 0; i < ids.Length; i++)
        {
            table.Slice(ids[i] * width, width).CopyTo(y.Slice(i * width, width));
        }
    }

    public static void EmbeddingBackward(ReadOnlySpan<int> ids, ReadOnlySpan<double> dy, int width, Span<double> dtable)
    {
        for (int i = 0; i < ids.Length; i++)
        {
            for (int c = 0; c < width; c++)
            {
                dtable[ids[i] * width + c] += dy[i * width + c];
            }
        }
    }

    /// <summary>Mean of -log softmax[target] over rows whose target is not <paramref name="ignoreIndex"/> (HF CrossEntropyLoss()).</summary>
    public static double CrossEntropyMean(ReadOnlySpan<double> logits, ReadOnlySpan<int> targets, int vocabSize, int ignoreIndex, Span<double> dlogits)
    {
        double total = 0;
        int count = 0;
        foreach (int target in targets)
        {
            count += target == ignoreIndex ? 0 : 1;
        }
        for (int r = 0; r < targets.Length; r++)
        {
            if (targets[r] == ignoreIndex)
            {
                continue;
            }
            var row = logits.Slice(r * vocabSize, vocabSize);
            double max = double.NegativeInfinity;
            foreach (double value in row)
            {
                max = Math.Max(max, value);
            }
            double sum = 0;
            foreach (double value in row)
            {
                sum += Math.Exp(value - max);
            }
            total += Math.Log(sum) + max - row[targets[r]];
            if (!dlogits.IsEmpty)
            {
                for (int v = 0; v < vocabSize; v++)
                {
                    dlogits[r * vocabSize + v] += (Math.Exp(row[v] - max) / sum - (v == targets[r] ? 1 : 0)) / count;
                }
            }
        }
        return count == 0 ? 0 : total / count;
    }

    /// <summary>Masks of one (batch row, head) as plain arrays: float64 bias and dropout, empty = none.</summary>
    public readonly record struct Masks(AttentionKind Kind, int LocalWindow, int[]? KeyMask, byte[]? Visibility, double[]? ScoreBias, double[]? Dropout)
    {
        public bool Sees(int t, int j, int keyCount)
        {
            Attention.VisibleRange(Kind, t, keyCount, LocalWindow, out int start, out int end);
            return j >= start && j < end && (KeyMask is null || KeyMask[j] != 0) && (Visibility is null || Visibility[t * keyCount + j] != 0);
        }
    }

    /// <summary>Attention of one head, q [tokenCount, headDim], k and v [keyCount, headDim], packed; P is returned for the backward.</summary>
    public static double[] AttentionForward(ReadOnlySpan<double> q, ReadOnlySpan<double> k, ReadOnlySpan<double> v, Masks masks,
        int tokenCount, int keyCount, int headDim, double scale, Span<double> output)
    {
        var probabilities = new double[tokenCount * keyCount];
        for (int t = 0; t < tokenCount; t++)
        {
            Attention.VisibleRange(masks.Kind, t, keyCount, masks.LocalWindow, out int start, out int end);
            bool any = false;
            for (int j = start; j < end; j++)
            {
                any |= masks.Sees(t, j, keyCount);
            }
            double max = double.NegativeInfinity;
            var scores = new double[keyCount];
            for (int j = start; j < end; j++)
            {
                scores[j] = double.NegativeInfinity;
                if (!any)
                {
                    scores[j] = 0; // nothing visible: uniform over the window
                }
                else if (masks.Sees(t, j, keyCount))
                {
                    double dot = 0;
                    for (int d = 0; d < headDim; d++)
                    {
                        dot += q[t * headDim + d] * k[j * headDim + d];
                    }
                    scores[j] = dot * scale + (masks.ScoreBias is null ? 0 : masks.ScoreBias[t * keyCount + j]);
                }
                max = Math.Max(max, scores[j]);
            }
            double sum = 0;
            for (int j = start; j < end; j++)
            {
                sum += Math.Exp(scores[j] - max);
            }
            for (int j = start; j < end; j++)
            {
                probabilities[t * keyCount + j] = Math.Exp(scores[j] - max) / sum;
            }
            for (int d = 0; d < headDim; d++)
            {
                double value = 0;
                for (int j = start; j < end; j++)
                {
                    double drop = masks.Dropout is null ? 1 : masks.Dropout[t * keyCount + j];
                    value += probabilities[t * keyCount + j] * drop * v[j * headDim + d];
                }
                output[t * headDim + d] = value;
            }
        }
        return probabilities;
    }

    public static void AttentionBackward(ReadOnlySpan<double> q, ReadOnlySpan<double> k, ReadOnlySpan<double> v, Masks masks,
        int tokenCount, int keyCount, int headDim, double scale, ReadOnlySpan<double> probabilities, ReadOnlySpan<double> dOutput,
        Span<double> dq, Span<double> dk, Span<double> dv, Span<double> dbias)
    {
        for (int t = 0; t < tokenCount; t++)
        {
            bool any = false;
            var dp = new double[keyCount];
            double rowSum = 0;
            for (int j = 0; j < keyCount; j++)
            {
                double p = probabilities[t * keyCount + j];
                double drop = masks.Dropout is null ? 1 : masks.Dropout[t * keyCount + j];
                for (int d = 0; d < headDim; d++)
                {
                    dv[j * headDim + d] += p * drop * dOutput[t * headDim + d];
                    dp[j] += dOutput[t * headDim + d] * v[j * headDim + d] * drop;
                }
                rowSum += p * dp[j];
                any |= masks.Sees(t, j, keyCount);
            }
            if (!any)
            {
                continue;
            }
            for (int j = 0; j < keyCount; j++)
            {
                double ds = probabilities[t * keyCount + j] * (dp[j] - rowSum);
                if (!dbias.IsEmpty)
                {
                    dbias[t * keyCount + j] += ds;
                }
                for (int d = 0; d < headDim; d++)
                {
                    dq[t * headDim + d] += ds * scale * k[j * headDim + d];
                    dk[j * headDim + d] += ds * scale * q[t * headDim + d];
                }
            }
        }
    }
}
