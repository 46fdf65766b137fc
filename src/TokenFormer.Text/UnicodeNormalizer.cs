using System.Runtime.InteropServices;
using System.Text;

namespace TokenFormer.Text;

/// <summary>
/// The Unicode normalisation forms a tokenizer.json may ask for (<c>normalizer.type</c> NFC, NFKC, NFD or NFKD).
/// The projects run in invariant-globalization mode, where <see cref="string.Normalize(NormalizationForm)"/> leaves
/// non-ASCII text unchanged, so this calls ICU's <c>unorm2</c> API directly (libicuuc on Linux, icu.dll on
/// Windows, libicucore on macOS). Text made only of characters that every form leaves alone skips the call.
/// </summary>
public sealed class UnicodeNormalizer
{
    private readonly IntPtr _instance;
    private readonly char _stableBelow;

    private UnicodeNormalizer(NormalizationForm form, IntPtr instance)
    {
        Form = form;
        _instance = instance;
        // Below U+0300 nothing composes or decomposes under NFC; below U+00A0 nothing changes under any form.
        _stableBelow = form == NormalizationForm.FormC ? '\u0300' : '\u00A0';
    }

    /// <summary>The normalisation form.</summary>
    public NormalizationForm Form { get; }

    /// <summary>The HF name of the form: NFC, NFKC, NFD or NFKD.</summary>
    public string Name => Form switch
    {
        NormalizationForm.FormC => "NFC",
        NormalizationForm.FormKC => "NFKC",
        NormalizationForm.FormD => "NFD",
        _ => "NFKD",
    };

    /// <summary>Creates the normaliser for <paramref name="form"/>; throws <see cref="PlatformNotSupportedException"/> without ICU.</summary>
    public static unsafe UnicodeNormalizer Create(NormalizationForm form)
    {
        Icu icu = Icu.Instance ?? throw new PlatformNotSupportedException(
            "Unicode normalisation needs ICU (libicuuc), which was not found on this machine");
        int error = 0;
        IntPtr instance = form switch
        {
            NormalizationForm.FormC => icu.GetNfc(ref error),
            NormalizationForm.FormKC => icu.GetNfkc(ref error),
            NormalizationForm.FormD => icu.GetNfd(ref error),
            NormalizationForm.FormKD => icu.GetNfkd(ref error),
            _ => throw new ArgumentOutOfRangeException(nameof(form)),
        };
        if (error > 0 || instance == IntPtr.Zero)
            throw new PlatformNotSupportedException($"ICU could not create the {form} normaliser (error {error})");
        return new UnicodeNormalizer(form, instance);
    }

    /// <summary>Returns <paramref name="text"/> in this normalisation form (the same instance when unchanged).</summary>
    public unsafe string Normalize(string text)
    {
        if (IsTriviallyStable(text)) return text;
        Icu icu = Icu.Instance!;
        int error = 0;
        fixed (char* src = text)
        {
            if (icu.IsNormalized(_instance, src, text.Length, ref error) != 0 && error <= 0) return text;
            error = 0;
            int capacity = text.Length * 3 + 16;
            while (true)
            {
                char[] buffer = new char[capacity];
                fixed (char* dst = buffer)
                {
                    int length = icu.Normalize(_instance, src, text.Length, dst, capacity, ref error);
                    if (error == BufferOverflowError)
                    {
                        capacity = length + 16;
                        error = 0;
                        continue;
                    }
                    if (error > 0) throw new InvalidOperationException($"ICU normalisation ({Name}) failed with error {error}");
                    return new string(buffer, 0, length);
                }
            }
        }
    }

    private bool IsTriviallyStable(string text)
    {
        char limit = _stableBelow;
        foreach (char c in text)
            if (c >= limit) return false;
        return true;
    }

    private const int BufferOverflowError = 15; // U_BUFFER_OVERFLOW_ERROR

    /// <summary>The few unorm2 entry points, bound at run time (ICU suffixes its symbols with its major version).</summary>
    private sealed unsafe class Icu
    {
        public static readonly Icu? Instance = TryLoad();

        public delegate* unmanaged<ref int, IntPtr> GetNfc;
        public delegate* unmanaged<ref int, IntPtr> GetNfkc;
        public delegate* unmanaged<ref int, IntPtr> GetNfd;
        public delegate* unmanaged<ref int, IntPtr> GetNfkd;
        public delegate* unmanaged<IntPtr, char*, int, char*, int, ref int, int> Normalize;
        public delegate* unmanaged<IntPtr, char*, int, ref int, sbyte> IsNormalized;

        private static Icu? TryLoad()
        {
            foreach (string name in CandidateLibraries())
            {
                if (!NativeLibrary.TryLoad(name, out IntPtr lib)) continue;
                foreach (string suffix in CandidateSuffixes(name))
                {
                    if (!NativeLibrary.TryGetExport(lib, "unorm2_getNFCInstance" + suffix, out IntPtr nfc)) continue;
                    var icu = new Icu
                    {
                        GetNfc = (delegate* unmanaged<ref int, IntPtr>)nfc,
                        GetNfkc = (delegate* unmanaged<ref int, IntPtr>)NativeLibrary.GetExport(lib, "unorm2_getNFKCInstance" + suffix),
                        GetNfd = (delegate* unmanaged<ref int, IntPtr>)NativeLibrary.GetExport(lib, "unorm2_getNFDInstance" + suffix),
                        GetNfkd = (delegate* unmanaged<ref int, IntPtr>)NativeLibrary.GetExport(lib, "unorm2_getNFKDInstance" + suffix),
                        Normalize = (delegate* unmanaged<IntPtr, char*, int, char*, int, ref int, int>)NativeLibrary.GetExport(lib, "unorm2_normalize" + suffix),
                        IsNormalized = (delegate* unmanaged<IntPtr, char*, int, ref int, sbyte>)NativeLibrary.GetExport(lib, "unorm2_isNormalized" + suffix),
                    };
                    return icu;
                }
            }
            return null;
        }

        private static IEnumerable<string> CandidateLibraries()
        {
            if (OperatingSystem.IsWindows())
            {
                yield return "icu.dll";
                yield return "icuuc.dll";
                yield break;
            }
            if (OperatingSystem.IsMacOS())
            {
                yield return "libicucore.dylib";
                yield break;
            }
            yield return "libicuuc.so";
            for (int v = 90; v >= 50; v--) yield return $"libicuuc.so.{v}";
        }

        private static IEnumerable<string> CandidateSuffixes(string library)
        {
            yield return "";
            int dot = library.LastIndexOf(".so.", StringComparison.Ordinal);
            if (dot >= 0) yield return "_" + library[(dot + 4)..];
            for (int v = 90; v >= 50; v--) yield return "_" + v;
        }
    }
}
