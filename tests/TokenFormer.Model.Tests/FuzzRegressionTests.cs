using System.Buffers.Binary;
using System.Text;
using TokenFormer.Core.PyTorch;
using TokenFormer.Core.SafeTensors;
using TokenFormer.Model.Import;
using TokenFormer.TestSupport;

namespace TokenFormer.Model.Tests;

/// <summary>
/// Inputs that broke a reader's contract under fuzzing or its review (docs/reliability.md, Fuzzing): each must now end in
/// the format's own error, read what it says, or allocate in proportion to its size.
/// </summary>
public sealed class FuzzRegressionTests
{
    private static string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(TempFolders.Create("fuzz-regression"), name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] SafeTensors(string header)
    {
        byte[] h = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + h.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)h.Length);
        h.CopyTo(file, 8);
        return file;
    }

    [Theory]
    [InlineData("F64", "2305843009213693952")] // 2^61 elements × 8 bytes = 2^64, which wrapped to 0 bytes
    [InlineData("I32", "4611686018427387904")] // 2^62 × 4
    public void A_safetensors_shape_whose_byte_count_overflows_is_refused_not_accepted_with_no_data(string dtype, string numel)
    {
        string path = Write("x.safetensors", SafeTensors($"{{\"a\":{{\"dtype\":\"{dtype}\",\"shape\":[{numel}],\"data_offsets\":[0,0]}}}}"));
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path));
        Assert.Contains("tensor 'a'", e.Message);
        Assert.Contains("more than 2^63 bytes", e.Message);
    }

    [Theory]
    [InlineData("{\"a\\ud800\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}")]      // in a tensor's key
    [InlineData("{\"a\":{\"dtype\":\"F\\udc0032\",\"shape\":[1],\"data_offsets\":[0,4]}}")]      // in its dtype
    [InlineData("{\"__metadata__\":{\"x\":\"\\ud800\"},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}")]   // in the metadata
    public void A_safetensors_header_with_a_lone_surrogate_escape_is_refused_not_an_unhandled_exception(string header)
    {
        // found by the adapter-dir fuzz target: the header parses, then reading the string threw InvalidOperationException
        byte[] file = [.. SafeTensors(header), 0, 0, 0, 0];
        string path = Write("x.safetensors", file);
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path));
        Assert.StartsWith(path, e.Message);
        Assert.Contains("not valid UTF-16", e.Message);
    }

    [Fact]
    public void A_config_json_with_a_lone_surrogate_escape_is_a_config_error_naming_the_field()
    {
        // found by injecting \ud800 into the fuzz seeds: the parsed config threw InvalidOperationException when read
        var e = Assert.Throws<TokenFormerConfigException>(() => ConfigReader.FromJson(
            "{\"num_layers\": 2, \"hidden_size\": 32, \"norm_activation_type\": \"l2_\\udc00norm_gelu\"}", "config.json", keepUnknownFields: true));
        Assert.Equal("config.json: field 'norm_activation_type' holds a \\u escape that is not valid UTF-16 (a lone surrogate such as \\ud800) (at byte 61)", e.Message);
    }

    [Fact]
    public void A_zip_end_record_claiming_many_members_does_not_size_an_allocation_by_the_claim()
    {
        // 22 bytes: an end-of-central-directory record claiming 60,000 members in an empty directory. The member list
        // was sized by the claim (480 KB here; 8 MB through the ZIP64 record) before the first member was read.
        var eocd = new byte[22];
        BinaryPrimitives.WriteUInt32LittleEndian(eocd, 0x06054b50);
        BinaryPrimitives.WriteUInt16LittleEndian(eocd.AsSpan(8), 60000);
        BinaryPrimitives.WriteUInt16LittleEndian(eocd.AsSpan(10), 60000);
        string path = Write("m.bin", eocd);
        TorchCheckpointOpenFails(path); // JIT and first-use allocations happen outside the measurement
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = TorchCheckpointOpenFails(path);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("central directory entry 0 is malformed", e.Message);
        Assert.True(allocated < 100_000, $"{allocated} bytes allocated for a 22-byte file");
    }

    private static PyTorchFormatException TorchCheckpointOpenFails(string path) =>
        Assert.Throws<PyTorchFormatException>(() => TorchCheckpoint.Open(path).Dispose());

    [Theory]
    [InlineData("[")]
    [InlineData("{a: ")]
    [InlineData("a: [")]
    public void Deeply_nested_yaml_is_an_error_naming_the_depth_not_a_stack_overflow(string opener)
    {
        // 100,000 levels overflowed the stack, which ends the process: no handler can catch it.
        string text = opener + string.Concat(Enumerable.Repeat("[", 100_000));
        var e = Assert.Throws<TokenFormerConfigException>(() => YamlSubsetReader.Parse(text, "deep.yml"));
        Assert.Contains("deep.yml line 1", e.Message);
        Assert.Contains($"deeper than {YamlSubsetReader.MaxDepth} levels", e.Message);
    }

    [Fact]
    public void Deeply_nested_block_yaml_is_an_error_naming_the_line()
    {
        var sb = new StringBuilder();
        for (int i = 0; i < 200; i++) sb.Append(new string(' ', i)).Append("k").Append(i).Append(":\n");
        var e = Assert.Throws<TokenFormerConfigException>(() => YamlSubsetReader.Parse(sb.ToString(), "deep.yml"));
        Assert.Contains($"deeper than {YamlSubsetReader.MaxDepth} levels", e.Message);
        Assert.Contains("deep.yml line 65:", e.Message);
    }

    [Fact]
    public void Nesting_within_the_limit_still_reads()
    {
        string text = "a: " + new string('[', 50) + "1" + new string(']', 50);
        object? v = ((Dictionary<string, object?>)YamlSubsetReader.Parse(text)!)["a"];
        for (int i = 0; i < 50; i++) v = Assert.Single((List<object?>)v!);
        Assert.Equal(1L, v);
    }

    [Theory]
    [InlineData(".nan", "NaN")]
    [InlineData(".inf", "Infinity")]
    [InlineData("-.inf", "-Infinity")]
    public void A_yaml_unknown_field_holding_nan_or_infinity_is_kept_instead_of_failing_the_config(string yaml, string kept)
    {
        // JSON has no NaN: keeping the field threw System.ArgumentException out of the config reader.
        string text = "num_layers: 2\nhidden_size: 32\nnum_attention_heads: 2\nqkv_slot_num: 32\nproj_slot_num: 32\nffn_slot_num: 64\n" +
            $"max_position_embeddings: 64\nfoo: {yaml}\n";
        TokenFormerConfig c = ConfigReader.FromYaml(text, "c.yml", keepUnknownFields: true);
        Assert.Equal(kept, c.Extra!["foo"].GetString());
    }
}
