using BenchmarkDotNet.Attributes;
using Sharpformer.Kernels;

namespace Sharpformer.Micro;

/// <summary>
/// One GPT-2 124M MLP weight (768 → 3072) as decode GEMV in f32, bf16 and int8, a prefill GEMM of 128 rows, and one
/// attention head over 128 keys. The weight stays in cache here (BenchmarkDotNet repeats one call), so these show the
/// kernels' compute cost; the bandwidth-bound figures are in Sharpformer.Bench's matmul and gpt2 tables.
/// </summary>
[MemoryDiagnoser]
public class KernelBenchmarks
{
    private const int InFeatures = 768, OutFeatures = 3072, PrefillRows = 128, HeadDim = 64, Keys = 128;
    private float[] _weight = [], _bias = [], _input = [], _output = [], _scales = [];
    private float[] _keys = [], _values = [], _scores = [], _query = [], _headOutput = [];
    private ushort[] _bf16 = [];
    private sbyte[] _int8 = [];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        float[] Fill(int length) => Enumerable.Range(0, length).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        _weight = Fill(InFeatures * OutFeatures);
        _bias = Fill(OutFeatures);
        _input = Fill(PrefillRows * InFeatures);
        _output = new float[PrefillRows * OutFeatures];
        _bf16 = new ushort[_weight.Length];
        MatMulBf16.Pack(_weight, InFeatures, OutFeatures, WeightLayout.InputMajor, _bf16);
        _int8 = new sbyte[_weight.Length];
        _scales = new float[OutFeatures];
        MatMulInt8.Quantize(_weight, InFeatures, OutFeatures, WeightLayout.InputMajor, _int8, _scales);
        _keys = Fill(Keys * HeadDim);
        _values = Fill(Keys * HeadDim);
        _query = Fill(Keys * HeadDim);
        _scores = new float[Keys];
        _headOutput = new float[Keys * HeadDim];
    }

    [Benchmark(Baseline = true)]
    public void GemvF32() => MatMul.Forward(_input.AsSpan(0, InFeatures), _weight, _bias, 1, InFeatures, OutFeatures, WeightLayout.InputMajor, _output);

    [Benchmark]
    public void GemvBf16() => MatMulBf16.Forward(_input.AsSpan(0, InFeatures), _bf16, _bias, 1, InFeatures, OutFeatures, _output);

    [Benchmark]
    public void GemvInt8() => MatMulInt8.Forward(_input.AsSpan(0, InFeatures), _int8, _scales, _bias, 1, InFeatures, OutFeatures, _output);

    [Benchmark]
    public void GemmF32Prefill128() => MatMul.Forward(_input, _weight, _bias, PrefillRows, InFeatures, OutFeatures, WeightLayout.InputMajor, _output);

    [Benchmark]
    public void AttentionCausalHead128() => Attention.Head(_query, HeadDim, _keys, _values, [], [], Keys, Keys, HeadDim, 0.125f,
        AttentionKind.Causal, 0, 0, _headOutput, HeadDim, _scores);
}
