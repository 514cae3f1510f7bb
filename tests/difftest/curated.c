/* Curated cases: instruction forms a translator copies or rewrites, built
 * with the Zydis encoder from short specs ("adc m32, r32"), each instance
 * with fresh random registers, plus hand-encoded sequences for edge cases
 * (division faults, shift by zero, call/ret pairs, misaligned SSE). Spec
 * operands: r8 r16 r32 r64 (random register), m8..m256 (random addressing
 * form, pointed into the data buffer), x y (xmm/ymm), i8 i16 i32 (random
 * immediate), a register name, or a number. "lock"/"rep"/"repne" may
 * prefix. "hex: .." gives raw bytes; "| reg=value,.." sets registers last. */
#include <Zydis/Zydis.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "difftest.h"
#include "error.h"
#include "gen.h"
#include "x86.h"

static const char *const specs[] = {
	/* integer ALU, every width and form, LOCK on memory destinations */
	"add r8, r8", "add r16, r16", "add r32, r32", "add r64, r64", "add r64, i8",
	"add r32, i32", "add m64, r64", "add r16, m16", "lock add m32, r32", "add m8, i8",
	"adc r8, r8", "adc r16, i16", "adc r32, r32", "adc r64, r64", "adc m64, i8",
	"lock adc m16, r16", "adc r64, m64",
	"sub r8, i8", "sub r16, r16", "sub r32, m32", "sub r64, r64", "lock sub m64, i32",
	"sbb r8, r8", "sbb r16, r16", "sbb r32, i8", "sbb r64, r64", "sbb m32, r32",
	"lock sbb m8, i8",
	"and r8, r8", "and r32, i32", "and r64, m64", "lock and m16, i16",
	"or r16, r16", "or r64, i8", "or m8, r8", "lock or m64, r64",
	"xor r32, r32", "xor r64, r64", "xor r8, m8", "lock xor m32, i8",
	"cmp r8, i8", "cmp r16, m16", "cmp r32, r32", "cmp r64, i32", "cmp m64, r64",
	"test r8, r8", "test r16, i16", "test r32, r32", "test m64, r64", "test r64, i32",
	"inc r8", "inc r16", "inc r32", "inc r64", "lock inc m32", "dec r8", "dec r64",
	"lock dec m16", "neg r8", "neg r16", "neg r32", "neg r64", "lock neg m64",
	"not r8", "not r64", "lock not m32",
	/* shifts and rotates: by 1, by CL (often 0 or >= width), by immediates */
	"shl r8, 1", "shl r16, cl", "shl r32, cl", "shl r64, cl", "shl r64, i8", "shl r32, 0",
	"shr r8, cl", "shr r16, 1", "shr r32, i8", "shr r64, cl", "shr m64, cl",
	"sar r8, i8", "sar r16, cl", "sar r32, 1", "sar r64, cl", "sar m16, i8",
	"rol r8, cl", "rol r16, i8", "rol r32, 1", "rol r64, cl", "ror r8, 1", "ror r16, cl",
	"ror r32, cl", "ror r64, i8", "rcl r8, cl", "rcl r16, cl", "rcl r32, 1", "rcl r64, cl",
	"rcr r8, cl", "rcr r16, i8", "rcr r32, cl", "rcr r64, 1", "rcl m32, cl",
	"shld r16, r16, cl", "shld r32, r32, i8", "shld r64, r64, cl", "shld m64, r64, cl",
	"shrd r16, r16, i8", "shrd r32, r32, cl", "shrd r64, r64, i8", "shrd m32, r32, cl",
	"shlx r32, r32, r32", "shrx r64, r64, r64", "sarx r64, m64, r64", "rorx r32, r32, i8",
	"rorx r64, m64, i8",
	/* multiply and divide (random operands make #DE common) */
	"mul r8", "mul r16", "mul r32", "mul r64", "mul m64", "imul r8", "imul r16",
	"imul r32", "imul r64", "imul m32", "imul r16, r16", "imul r32, m32", "imul r64, r64",
	"imul r16, r16, i8", "imul r32, r32, i32", "imul r64, m64, i8",
	"div r8", "div r16", "div r32", "div r64", "div m32", "idiv r8", "idiv r16",
	"idiv r32", "idiv r64", "idiv m64", "mulx r32, r32, r32", "mulx r64, r64, m64",
	/* bit operations */
	"bt r16, r16", "bt r32, i8", "bt r64, r64", "bt m32, r32", "bt m64, i8",
	"bts r16, i8", "bts r32, r32", "bts r64, r64", "lock bts m64, r64", "lock bts m32, i8",
	"btr r16, r16", "btr r32, i8", "btr r64, r64", "lock btr m16, r16",
	"btc r16, r16", "btc r32, r32", "btc r64, i8", "lock btc m64, i8",
	"bsf r16, r16", "bsf r32, r32", "bsf r64, r64", "bsf r64, m64",
	"bsr r16, r16", "bsr r32, m32", "bsr r64, r64",
	"popcnt r16, r16", "popcnt r32, r32", "popcnt r64, m64",
	"lzcnt r16, r16", "lzcnt r32, r32", "lzcnt r64, r64", "tzcnt r16, m16",
	"tzcnt r32, r32", "tzcnt r64, r64",
	"andn r32, r32, r32", "andn r64, r64, m64", "bextr r32, r32, r32", "bextr r64, m64, r64",
	"blsi r32, r32", "blsi r64, r64", "blsmsk r32, r32", "blsmsk r64, m64", "blsr r32, r32",
	"blsr r64, r64", "bzhi r32, r32, r32", "bzhi r64, r64, r64", "pdep r32, r32, r32",
	"pdep r64, r64, m64", "pext r32, r32, r32", "pext r64, r64, r64",
	"adcx r32, r32", "adcx r64, m64", "adox r32, r32", "adox r64, r64",
	/* moves, conditional moves, exchanges */
	"mov r8, r8", "mov r16, m16", "mov m32, r32", "mov r64, i64", "mov m64, i32",
	"mov r32, i32", "mov m8, i8", "movzx r32, r8", "movzx r64, m16", "movzx r16, r8",
	"movsx r16, m8", "movsx r32, r16", "movsx r64, r8", "movsxd r64, r32", "movsxd r64, m32",
	"cmovo r16, r16", "cmovno r32, m32", "cmovb r64, r64", "cmovnb r32, r32", "cmovz r64, m64",
	"cmovnz r16, r16", "cmovbe r32, r32", "cmovnbe r64, r64", "cmovs r32, r32",
	"cmovns r64, r64", "cmovp r32, r32", "cmovnp r16, m16", "cmovl r64, r64", "cmovnl r32, r32",
	"cmovle r64, r64", "cmovnle r32, m32",
	"seto r8", "setno r8", "setb r8", "setnb m8", "setz r8", "setnz r8", "setbe r8",
	"setnbe r8", "sets r8", "setns r8", "setp m8", "setnp r8", "setl r8", "setnl r8",
	"setle r8", "setnle r8",
	"xchg r8, r8", "xchg r16, r16", "xchg r32, r32", "xchg r64, r64", "xchg m64, r64",
	"xchg m8, r8", "xadd r32, r32", "xadd r64, r64", "lock xadd m32, r32",
	"lock xadd m64, r64", "xadd m8, r8",
	"cmpxchg r8, r8", "cmpxchg r32, r32", "cmpxchg r64, r64", "lock cmpxchg m64, r64",
	"lock cmpxchg m16, r16", "lock cmpxchg8b m64", "lock cmpxchg16b m128",
	"bswap r32", "bswap r64", "movbe r32, m32", "movbe m64, r64",
	"lea r64, m64", "lea r32, m32", "lea r16, m16",
	"cbw", "cwde", "cdqe", "cwd", "cdq", "cqo", "lahf", "sahf", "clc", "stc", "cmc",
	"xlat",
	/* stack */
	"push r64", "push r16", "push m64", "push i8", "push i32", "pop r64", "pop r16",
	"pop m64", "pushfq", "leave", "enter i16, 0", "enter i16, 1", "ret", "ret i16",
	"call r64", "call m64",
	/* strings, with and without rep, all widths */
	"movsb", "movsw", "movsd", "movsq", "rep movsb", "rep movsw", "rep movsd", "rep movsq",
	"stosb", "stosq", "rep stosb", "rep stosw", "rep stosd", "rep stosq",
	"lodsb", "lodsd", "rep lodsq", "cmpsb", "cmpsq", "rep cmpsb", "repne cmpsw", "rep cmpsd",
	"scasb", "scasw", "rep scasb", "repne scasb", "repne scasq",
	/* SSE/SSE2/SSE4 */
	"addps x, x", "addpd x, m128", "addss x, x", "addsd x, m64", "subps x, x", "subsd x, x",
	"mulps x, x", "mulsd x, x", "divps x, x", "divsd x, m64", "sqrtps x, x", "sqrtsd x, x",
	"minps x, x", "maxpd x, x", "minss x, x", "maxsd x, x", "rcpps x, x", "rsqrtss x, x",
	"andps x, x", "andnpd x, x", "orps x, m128", "xorpd x, x", "cmpps x, x, i8",
	"cmpsd x, x, i8", "ucomiss x, x", "comisd x, m64", "ucomisd x, x",
	"cvtsi2sd x, r64", "cvtsi2ss x, r32", "cvttsd2si r64, x", "cvtsd2si r32, x",
	"cvttss2si r64, m32", "cvtps2dq x, x", "cvttps2dq x, x", "cvtdq2ps x, x",
	"cvtsd2ss x, x", "cvtss2sd x, x", "cvtpd2ps x, x",
	"movaps x, m128", "movaps m128, x", "movups x, m128", "movups m128, x", "movdqa x, m128",
	"movdqu x, m128", "movdqu m128, x", "movd x, r32", "movd r32, x", "movq x, r64",
	"movq r64, x", "movq x, m64", "movss x, m32", "movsd m64, x", "movhlps x, x",
	"movlhps x, x", "movhps x, m64", "movmskps r32, x", "pmovmskb r32, x",
	"paddb x, x", "paddw x, m128", "paddd x, x", "paddq x, x", "paddusb x, x", "paddsw x, x",
	"psubb x, x", "psubd x, x", "psubusw x, x", "pmullw x, x", "pmulhw x, x", "pmulld x, x",
	"pmuludq x, x", "pmaddwd x, x", "pand x, x", "pandn x, m128", "por x, x", "pxor x, x",
	"pcmpeqb x, x", "pcmpeqd x, x", "pcmpgtb x, x", "pcmpgtd x, m128", "pcmpeqq x, x",
	"psllw x, i8", "pslld x, x", "psllq x, i8", "psrlw x, x", "psrld x, i8", "psrlq x, x",
	"psraw x, i8", "psrad x, x", "pslldq x, i8", "psrldq x, i8",
	"pshufd x, x, i8", "pshuflw x, m128, i8", "pshufhw x, x, i8", "pshufb x, x",
	"punpcklbw x, x", "punpckhwd x, x", "punpckldq x, m128", "punpckhqdq x, x",
	"packsswb x, x", "packuswb x, x", "packssdw x, x", "packusdw x, x",
	"shufps x, x, i8", "shufpd x, x, i8", "unpcklps x, x", "unpckhpd x, x",
	"pextrw r32, x, i8", "pinsrw x, r32, i8", "pextrd r32, x, i8", "pinsrq x, r64, i8",
	"pextrb m8, x, i8", "pminsd x, x", "pmaxub x, x", "pminuw x, x", "pabsd x, x",
	"psignw x, x", "palignr x, x, i8", "ptest x, x", "pblendw x, x, i8", "blendvps x, x",
	"roundps x, x, i8", "roundsd x, x, i8", "dpps x, x, i8", "pmovzxbw x, x",
	"pmovsxdq x, m64", "pcmpestri x, x, i8", "pcmpistrm x, x, i8", "crc32 r32, r8",
	"crc32 r64, r64", "crc32 r32, m32", "haddps x, x", "addsubpd x, x", "movddup x, x",
	"aesenc x, x", "pclmulqdq x, x, i8",
	/* AVX/AVX2 */
	"vaddps y, y, y", "vaddpd x, x, m128", "vsubps y, y, m256", "vmulpd y, y, y",
	"vdivps y, y, y", "vsqrtpd y, y", "vmaxps y, y, y", "vandps y, y, y", "vxorpd x, x, x",
	"vcmpps y, y, y, i8", "vpaddd y, y, y", "vpaddq y, y, m256", "vpsubb y, y, y",
	"vpmulld y, y, y", "vpmuludq y, y, y", "vpand y, y, y", "vpor y, y, m256",
	"vpxor y, y, y", "vpcmpeqb y, y, y", "vpcmpgtq y, y, y", "vpsllvd y, y, y",
	"vpsrlvq y, y, y", "vpsravd y, y, y", "vpslld y, y, i8", "vpsrlq y, y, x",
	"vpshufb y, y, y", "vpshufd y, y, i8", "vpermq y, y, i8", "vpermd y, y, y",
	"vperm2i128 y, y, y, i8", "vpermilps y, y, i8", "vpbroadcastd y, x",
	"vpbroadcastb x, m8", "vbroadcastss y, m32", "vinserti128 y, y, x, i8",
	"vextracti128 x, y, i8", "vextractf128 m128, y, i8", "vpblendd y, y, y, i8",
	"vpblendvb y, y, y, y", "vpmovmskb r32, y", "vmovmskps r32, y", "vptest y, y",
	"vmovdqu y, m256", "vmovdqu m256, y", "vmovdqa y, m256", "vmovaps m256, y",
	"vmovups y, y", "vmovd x, r32", "vmovq r64, x", "vpunpcklbw y, y, y",
	"vpackssdw y, y, y", "vpalignr y, y, y, i8", "vpminsd y, y, y", "vpabsw y, y",
	"vfmadd231ps y, y, y", "vfmadd132sd x, x, x", "vfnmsub213pd y, y, m256",
	"vcvtps2pd y, x", "vcvttpd2dq x, y", "vcvtph2ps y, x", "vcvtps2ph x, y, i8",
	"vroundps y, y, i8", "vhaddpd y, y, y", "vpsadbw y, y, y", "vpmaddubsw y, y, y",
	"vzeroupper", "vzeroall",
};

/* Hand-encoded edge cases and sequences. */
static const char *const raw[] = {
	"hex:48 f7 f1 | rcx=0",                                 /* div rcx by zero: #DE */
	"hex:48 f7 f9 | rax=0x8000000000000000,rdx=-1,rcx=-1",  /* idiv overflow: #DE */
	"hex:f6 f1 | rax=0x1234,rcx=0x12",                      /* div cl: quotient overflow */
	"hex:48 f7 f1 | rdx=0,rcx=7",                           /* div without fault */
	"hex:48 d3 e0 | rcx=0",                                 /* shl rax, cl with cl=0: flags kept */
	"hex:48 d3 e0 | rcx=64",                                /* count masked to 0 */
	"hex:d3 e0 | rcx=33",                                   /* 32-bit count masked to 1 */
	"hex:66 d3 e0 | rcx=17",                                /* 16-bit shift past width */
	"hex:d2 d0 | rcx=9",                                    /* rcl al, 9 */
	"hex:66 d3 d0 | rcx=17",                                /* rcl ax, 17 (mod 17) */
	"hex:48 0f a5 d8 | rcx=0",                              /* shld rax,rbx,cl with 0 */
	"hex:66 0f a5 d8 | rcx=20",                             /* shld ax past 16: undefined */
	"hex:48 0f bc c3 | rbx=0",                              /* bsf of zero keeps the dest */
	"hex:48 0f bd c3 | rbx=0",                              /* bsr of zero */
	"hex:f3 48 0f bc c3 | rbx=0",                           /* tzcnt of zero: CF=1 */
	"hex:e8 01 00 00 00 cc c3",                             /* call; ret back to int3 */
	"hex:e8 00 00 00 00 58",                                /* call next; pop the return address */
	"hex:54 5c",                                            /* push rsp; pop rsp */
	"hex:ff 34 24 8f 04 24",                                /* push [rsp]; pop [rsp] */
	"hex:48 8d 05 00 00 00 00",                             /* lea rax, [rip] */
	"hex:48 8b 05 f9 ff ff ff",                             /* mov rax, [rip-7]: reads itself */
	"hex:0f 28 07 | rdi=0x20001008",                        /* movaps misaligned: #GP */
	"hex:0f 28 07 | rdi=0x20001000",                        /* movaps aligned */
	"hex:c5 fc 28 07 | rdi=0x20001010",                     /* vmovaps ymm misaligned: #GP */
	"hex:48 0f c7 0f | rdi=0x20001008",                     /* cmpxchg16b misaligned: #GP */
	"hex:f3 a4 | rcx=0",                                    /* rep movsb with rcx 0 */
	"hex:f3 48 a5 | rcx=0x3000,rsi=0x20004000,rdi=0x20009000", /* runs off the buffer: #PF */
	"hex:f3 aa | rcx=0x200,rdi=0x2000fe80",                 /* rep stosb into the guard: #PF */
	"hex:fd f3 a4 fc | rcx=16",                             /* std; rep movsb backwards; cld */
	"hex:48 89 04 25 00 00 00 10",                          /* store to the code page: #PF */
	"hex:48 8b 04 25 00 00 ff 1f",                          /* load below the buffer: #PF */
	"hex:48 8b 00 | rax=0x8000000000000000",                /* non-canonical: #GP */
	"hex:48 8b 04 24 | rsp=0x8000000000001000",             /* non-canonical stack: #SS */
	"hex:ff e0 | rax=0x20001000",                           /* jmp into no-execute data: #PF */
	"hex:ff d0 | rax=0x1234",                               /* call to unmapped: #PF, pushed */
	"hex:0f 0b",                                            /* ud2: #UD */
	"hex:f0 01 c0",                                         /* lock on a register: #UD */
	"hex:74 02 90 90 90",                                   /* jz over two nops */
	"hex:75 00 90",                                         /* jnz +0 either way */
	"hex:e3 01 90 | rcx=0",                                 /* jrcxz taken */
	"hex:e2 01 90 | rcx=2",                                 /* loop forward */
	"hex:48 ff c0 71 01 90 70 01 90",                       /* inc; jno; jo */
	"hex:f2 0f 5e c1 | ",                                   /* divsd xmm0, xmm1 (maybe #XM) */
	"hex:0f ae 1f | rdi=0x20001000",                        /* stmxcsr [rdi] */
	"hex:9c 58",                                            /* pushfq; pop rax */
	"hex:48 0f c7 0f | rdi=0x20001000,rax=1,rdx=2",         /* cmpxchg16b aligned */
	"hex:66 48 0f 3a 16 c0 01",                             /* pextrq rax, xmm0, 1 */
	"hex:c4 e2 7d 2c 07 | rdi=0x2000fff0",                  /* vmaskmovps over the guard */
	"hex:c5 fd 6f 07 | rdi=0x2000fff0",                     /* vmovdqa/ymm load crossing into guard */
	"hex:48 8b 07 | rdi=0x2000fffc",                        /* 8-byte load across the buffer end */
	"hex:48 89 07 | rdi=0x2000fffc",                        /* store across the end: nothing written */
	"hex:f0 48 0f c1 07 | rdi=0x2000fffa",                  /* lock xadd across the end */
	"hex:66 0f 7f 07 | rdi=0x2000fff8",                     /* movdqa store, misaligned and crossing */
	"hex:48 0f c7 0f | rdi=0x2000fff0",                     /* cmpxchg16b: the last 16 bytes */
	/* Two limbs of mpn_add_n/sub_n: only CF is live across the loads and
	 * stores, so their probes keep CF alone; in page and across one (the
	 * group probe misses and the ungrouped copy runs), with bases the
	 * translator keeps in registers and in its vCPU block (r10, r11). */
	"hex:48 8b 06 48 13 02 48 89 07 48 8b 46 08 48 13 42 08 48 89 47 08 48 8d 76 10 ff c9"
	" | rsi=0x20001100,rdx=0x20003208,rdi=0x20005310",
	"hex:48 8b 06 48 13 02 48 89 07 48 8b 46 08 48 13 42 08 48 89 47 08 48 8d 76 10 ff c9"
	" | rsi=0x20001ff8,rdx=0x20003ff8,rdi=0x20005ff8",
	"hex:49 8b 02 49 1b 03 49 89 01 49 8b 42 08 49 1b 43 08 49 89 41 08 4d 8d 52 10 41 ff c8"
	" | r10=0x20002040,r11=0x20004080,r9=0x20006ff8",
	"hex:49 8b 02 49 13 03 49 89 01 49 8b 42 08 49 13 43 08 49 89 41 08 4d 8d 52 10 41 ff c8"
	" | r10=0x20002400,r11=0x20004400,r9=0x20006400",
	/* Code at the very end of the page; the next page is not mapped. */
	"tail:48 8b",                                           /* mov split across the page end: #PF fetch */
	"tail:90",                                              /* nop, then execution runs off the page */
	"tail:48 01 d8",                                        /* add, then off the page */
	"tail:0f",                                              /* a lone escape byte */
	"tail:e8 00 00",                                        /* call with half its displacement */
	"tail:74",                                              /* jz without its offset */
	"tail:f3 48 a5 | rcx=3",                                /* rep movsq at the end of the page */
};

#define NSPECS ((int)(sizeof(specs) / sizeof(specs[0])))
#define NRAW ((int)(sizeof(raw) / sizeof(raw[0])))

int dt_curated_count(void)
{
	return NSPECS + NRAW;
}

static ZydisMnemonic mnemonic_lookup(const char *name)
{
	for (int m = 1; m <= ZYDIS_MNEMONIC_MAX_VALUE; m++) {
		const char *s = ZydisMnemonicGetString((ZydisMnemonic)m);
		if (s && !strcmp(s, name))
			return (ZydisMnemonic)m;
	}
	return ZYDIS_MNEMONIC_INVALID;
}

static const ZydisRegister gpr8[] = {
	ZYDIS_REGISTER_AL, ZYDIS_REGISTER_CL, ZYDIS_REGISTER_DL, ZYDIS_REGISTER_BL,
	ZYDIS_REGISTER_SPL, ZYDIS_REGISTER_BPL, ZYDIS_REGISTER_SIL, ZYDIS_REGISTER_DIL,
	ZYDIS_REGISTER_R8B, ZYDIS_REGISTER_R9B, ZYDIS_REGISTER_R10B, ZYDIS_REGISTER_R11B,
	ZYDIS_REGISTER_R12B, ZYDIS_REGISTER_R13B, ZYDIS_REGISTER_R14B, ZYDIS_REGISTER_R15B,
	ZYDIS_REGISTER_AH, ZYDIS_REGISTER_CH, ZYDIS_REGISTER_DH, ZYDIS_REGISTER_BH,
};

static ZydisRegister rand_gpr(struct dt_gen *g, int bits)
{
	int i = (int)dt_below(g, 16);
	switch (bits) {
	case 8: return gpr8[dt_below(g, 20)];
	case 16: return (ZydisRegister)(ZYDIS_REGISTER_AX + i);
	case 32: return (ZydisRegister)(ZYDIS_REGISTER_EAX + i);
	default: return (ZydisRegister)(ZYDIS_REGISTER_RAX + i);
	}
}

static uint64_t rand_imm(struct dt_gen *g, int bits)
{
	uint64_t v = dt_rand_value(g);
	if (bits == 8 && dt_below(g, 3) == 0)
		v = dt_below(g, 70);            /* shift counts and lane selectors near the edges */
	return bits >= 64 ? v : v & ((1ull << bits) - 1);
}

static int encode_operand(struct dt_gen *g, const char *t, ZydisEncoderOperand *o)
{
	memset(o, 0, sizeof(*o));
	int bits;
	if (t[0] == 'r' && isdigit((unsigned char)t[1])) {
		bits = atoi(t + 1);
		o->type = ZYDIS_OPERAND_TYPE_REGISTER;
		o->reg.value = rand_gpr(g, bits);
		return 0;
	}
	if (t[0] == 'm' && isdigit((unsigned char)t[1])) {
		bits = atoi(t + 1);
		o->type = ZYDIS_OPERAND_TYPE_MEMORY;
		o->mem.size = (ZyanU16)(bits / 8);
		if (dt_below(g, 10) == 0) {
			o->mem.base = ZYDIS_REGISTER_RIP;
		} else {
			o->mem.base = (ZydisRegister)(ZYDIS_REGISTER_RAX + dt_below(g, 16));
			if (dt_below(g, 2)) {
				ZydisRegister ix;
				do
					ix = (ZydisRegister)(ZYDIS_REGISTER_RAX + dt_below(g, 16));
				while (ix == ZYDIS_REGISTER_RSP);
				o->mem.index = ix;
				o->mem.scale = (ZyanU8)(1u << dt_below(g, 4));
			}
		}
		switch (dt_below(g, 3)) {
		case 0: o->mem.displacement = 0; break;
		case 1: o->mem.displacement = (int8_t)dt_rand(g); break;
		default: o->mem.displacement = (int32_t)(dt_rand(g) % 0x10000) - 0x8000; break;
		}
		return 0;
	}
	if (t[0] == 'x' && !t[1]) {
		o->type = ZYDIS_OPERAND_TYPE_REGISTER;
		o->reg.value = (ZydisRegister)(ZYDIS_REGISTER_XMM0 + dt_below(g, 16));
		return 0;
	}
	if (t[0] == 'y' && !t[1]) {
		o->type = ZYDIS_OPERAND_TYPE_REGISTER;
		o->reg.value = (ZydisRegister)(ZYDIS_REGISTER_YMM0 + dt_below(g, 16));
		return 0;
	}
	if (t[0] == 'i' && isdigit((unsigned char)t[1])) {
		o->type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
		o->imm.u = rand_imm(g, atoi(t + 1));
		return 0;
	}
	if (isdigit((unsigned char)t[0])) {
		o->type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
		o->imm.u = strtoull(t, NULL, 0);
		return 0;
	}
	for (int r = 1; r <= ZYDIS_REGISTER_MAX_VALUE; r++) {
		const char *s = ZydisRegisterGetString((ZydisRegister)r);
		if (s && !strcmp(s, t)) {
			o->type = ZYDIS_OPERAND_TYPE_REGISTER;
			o->reg.value = (ZydisRegister)r;
			return 0;
		}
	}
	return err_set("curated spec: unknown operand '%s'", t);
}

static int set_reg(struct dt_case *c, const char *name, uint64_t v)
{
	static const char *const n[16] = { "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
					   "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };
	for (int i = 0; i < 16; i++)
		if (!strcmp(n[i], name)) {
			c->init.gpr[i] = v;
			return 0;
		}
	return err_set("curated spec: unknown register '%s'", name);
}

static int apply_sets(struct dt_case *c, const char *p)
{
	char buf[200];
	snprintf(buf, sizeof(buf), "%s", p);
	for (char *tok = strtok(buf, ", "); tok; tok = strtok(NULL, ", ")) {
		char *eq = strchr(tok, '=');
		if (!eq)
			continue;
		*eq = 0;
		if (set_reg(c, tok, strtoull(eq + 1, NULL, 0)) < 0)
			return -1;
	}
	return 0;
}

static int build_hex(struct dt_case *c, const char *p)
{
	while (*p && *p != '|') {
		if (isspace((unsigned char)*p)) {
			p++;
			continue;
		}
		char *end;
		unsigned long b = strtoul(p, &end, 16);
		if (end == p || c->code_len >= DT_CODE_MAX)
			return err_set("curated hex: bad byte near '%s'", p);
		c->code[c->code_len++] = (uint8_t)b;
		p = end;
	}
	return 0;
}

static int build_spec(struct dt_gen *g, struct dt_case *c, const char *spec)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", spec);
	char *p = buf;
	ZydisEncoderRequest req;
	memset(&req, 0, sizeof(req));
	req.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
	for (;;) {
		if (!strncmp(p, "lock ", 5)) {
			req.prefixes |= ZYDIS_ATTRIB_HAS_LOCK;
			p += 5;
		} else if (!strncmp(p, "rep ", 4)) {
			req.prefixes |= ZYDIS_ATTRIB_HAS_REP;
			p += 4;
		} else if (!strncmp(p, "repne ", 6)) {
			req.prefixes |= ZYDIS_ATTRIB_HAS_REPNE;
			p += 6;
		} else {
			break;
		}
	}
	char *name = strtok(p, " ");
	ZydisMnemonic m = mnemonic_lookup(name);
	/* "rep" on compare-strings is REPE to the encoder. */
	if ((req.prefixes & ZYDIS_ATTRIB_HAS_REP) && (!strncmp(name, "cmps", 4) || !strncmp(name, "scas", 4)))
		req.prefixes = (req.prefixes & ~ZYDIS_ATTRIB_HAS_REP) | ZYDIS_ATTRIB_HAS_REPE;
	if (m == ZYDIS_MNEMONIC_INVALID)
		return err_set("curated spec: unknown mnemonic '%s'", name);
	/* String mnemonics that take implicit operands: size suffix forms. */
	req.mnemonic = m;
	for (char *t = strtok(NULL, ", "); t; t = strtok(NULL, ", ")) {
		if (req.operand_count == ZYDIS_ENCODER_MAX_OPERANDS)
			return err_set("curated spec: too many operands in '%s'", spec);
		if (encode_operand(g, t, &req.operands[req.operand_count++]) < 0)
			return -1;
	}
	/* A fourth register operand is encoded in an immediate's high nibble. */
	if (req.operand_count == 4 && req.operands[3].type == ZYDIS_OPERAND_TYPE_REGISTER)
		req.operands[3].reg.is4 = ZYAN_TRUE;
	/* lea: the encoder wants the address size as the operand size. */
	if (m == ZYDIS_MNEMONIC_LEA && req.operand_count == 2)
		req.operands[1].mem.size = 8;
	/* A lock prefix needs a memory destination, VEX forms distinct registers
	 * in some cases: retry a few random choices before giving up. */
	uint8_t out[ZYDIS_MAX_INSTRUCTION_LENGTH];
	ZyanUSize len = sizeof(out);
	if (!ZYAN_SUCCESS(ZydisEncoderEncodeInstruction(&req, out, &len)))
		return err_set("curated spec '%s': the encoder rejected this instance", spec);
	memcpy(c->code, out, len);
	c->code_len = (uint32_t)len;
	return 0;
}

int dt_hex_case(const char *spec, uint64_t seed, struct dt_case *c)
{
	struct dt_gen *g = dt_gen_new(seed);
	if (!g)
		return -1;
	memset(c, 0, sizeof(*c));
	c->cat = CAT_CURATED;
	c->data_seed = dt_rand(g);
	dt_rand_state(g, &c->init);
	snprintf(c->note, sizeof(c->note), "%s", spec);
	int rc = build_hex(c, spec);
	if (rc == 0 && !c->code_len)
		rc = err_set("--hex needs at least one byte");
	c->ninsns = 1;
	if (rc == 0) {
		dt_fix_block(g, c);
		dt_bias_block(g, c);
	}
	const char *bar = strchr(spec, '|');
	if (rc == 0 && bar)
		rc = apply_sets(c, bar + 1);
	dt_gen_free(g);
	return rc;
}

int dt_curated_case(int i, uint64_t seed, struct dt_case *c)
{
	if (i < 0 || i >= dt_curated_count())
		return err_set("curated case %d does not exist", i);
	struct dt_gen *g = dt_gen_new(seed);
	if (!g)
		return -1;
	memset(c, 0, sizeof(*c));
	c->cat = CAT_CURATED;
	c->data_seed = dt_rand(g);
	dt_rand_state(g, &c->init);
	const char *spec = i < NSPECS ? specs[i] : raw[i - NSPECS];
	snprintf(c->note, sizeof(c->note), "%s", spec);
	int rc = -1;
	if (!strncmp(spec, "hex:", 4)) {
		rc = build_hex(c, spec + 4);
	} else if (!strncmp(spec, "tail:", 5)) {
		rc = build_hex(c, spec + 5);
		c->code_off = DT_CODE_SIZE - c->code_len;
		c->init.rip = DT_CODE_VA + c->code_off;
	} else {
		for (int tries = 0; tries < 16 && rc < 0; tries++) {
			c->code_len = 0;
			rc = build_spec(g, c, spec);
		}
	}
	c->ninsns = 1;
	if (rc == 0) {
		if (!strncmp(spec, "rep", 3) || strstr(spec, " rep"))
			c->init.gpr[GPR_RCX] = dt_below(g, 4) ? dt_below(g, 40) : c->init.gpr[GPR_RCX];
		if (strncmp(spec, "hex:", 4) && strncmp(spec, "tail:", 5)) {
			dt_fix_block(g, c);
			dt_bias_block(g, c);
		}
		const char *bar = strchr(spec, '|');
		if (bar)
			rc = apply_sets(c, bar + 1);
	}
	dt_gen_free(g);
	return rc;
}
