using System.CommandLine;
using System.Globalization;
using TokenFormer.Model;

namespace TokenFormer.Cli.Commands;

/// <summary>
/// <c>tokenformer presets</c>: the named model sizes with their parameter counts; also builds <c>bench train</c>,
/// which takes one of these presets.
/// </summary>
public static class PresetsCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print one JSON object per preset" };
        var cmd = new Command("presets", "List the model presets (official sizes and small CPU presets) with parameter counts.") { json };
        cmd.SetAction(parse =>
        {
            bool asJson = parse.GetValue(json);
            if (!asJson)
                Console.WriteLine($"{"name",-7} {"params",15} {"layers",6} {"hidden",6} {"heads",5} {"qkv",5} {"proj",5} {"ffn",6} {"vocab",6}  description");
            foreach (TokenFormerPresets.Preset p in TokenFormerPresets.All)
            {
                TokenFormerConfig c = p.Create();
                long count = c.ParameterCount();
                if (asJson)
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{{\"name\":\"{p.Name}\",\"params\":{count},\"num_layers\":{c.NumLayers},\"hidden_size\":{c.HiddenSize},\"num_attention_heads\":{c.NumAttentionHeads},\"qkv_slot_num\":{c.QkvSlotNum},\"proj_slot_num\":{c.ProjSlotNum},\"ffn_slot_num\":{c.FfnSlotNum},\"vocab_size\":{c.Vocab}}}"));
                else
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{p.Name,-7} {count,15:N0} {c.NumLayers,6} {c.HiddenSize,6} {c.NumAttentionHeads,5} {c.QkvSlotNum,5} {c.ProjSlotNum,5} {c.FfnSlotNum,6} {c.Vocab,6}  {p.Description}"));
            }
            return 0;
        });
        return cmd;
    }
}
