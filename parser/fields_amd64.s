//go:build !purego

// SSE2 (baseline on amd64) field-line scanner; see fields_amd64.go.

#include "textflag.h"

// Byte-broadcast constants, 16 bytes each.
DATA lineConsts<>+0x00(SB)/8, $0x1f1f1f1f1f1f1f1f
DATA lineConsts<>+0x08(SB)/8, $0x1f1f1f1f1f1f1f1f
DATA lineConsts<>+0x10(SB)/8, $0x7f7f7f7f7f7f7f7f
DATA lineConsts<>+0x18(SB)/8, $0x7f7f7f7f7f7f7f7f
DATA lineConsts<>+0x20(SB)/8, $0x2020202020202020
DATA lineConsts<>+0x28(SB)/8, $0x2020202020202020
DATA lineConsts<>+0x30(SB)/8, $0x6161616161616161
DATA lineConsts<>+0x38(SB)/8, $0x6161616161616161
DATA lineConsts<>+0x40(SB)/8, $0x1919191919191919
DATA lineConsts<>+0x48(SB)/8, $0x1919191919191919
DATA lineConsts<>+0x50(SB)/8, $0x3030303030303030
DATA lineConsts<>+0x58(SB)/8, $0x3030303030303030
DATA lineConsts<>+0x60(SB)/8, $0x0909090909090909
DATA lineConsts<>+0x68(SB)/8, $0x0909090909090909
DATA lineConsts<>+0x70(SB)/8, $0x2d2d2d2d2d2d2d2d
DATA lineConsts<>+0x78(SB)/8, $0x2d2d2d2d2d2d2d2d
GLOBL lineConsts<>(SB), RODATA|NOPTR, $128

// CTLMASK sets AX bit b when byte b of X0 is a control byte or DEL:
// x <= 0x1f is min(x, 0x1f) == x.
#define CTLMASK \
	MOVO     X0, X1  \
	PMINUB   X8, X1  \
	PCMPEQB  X0, X1  \
	PCMPEQB  X9, X0  \
	POR      X0, X1  \
	PMOVMSKB X1, AX

// BADMASK sets AX bit b when byte b of X0 is not an ASCII letter, digit or
// '-': a letter is (x|0x20)-'a' <= 25 and a digit x-'0' <= 9, in bytes that
// wrap, which is exact for every byte value.
#define BADMASK \
	MOVO     X0, X1  \
	POR      X10, X1 \
	PSUBB    X11, X1 \
	MOVO     X1, X2  \
	PMINUB   X12, X2 \
	PCMPEQB  X1, X2  \
	MOVO     X0, X3  \
	PSUBB    X13, X3 \
	MOVO     X3, X4  \
	PMINUB   X14, X4 \
	PCMPEQB  X3, X4  \
	PCMPEQB  X7, X0  \
	POR      X4, X2  \
	POR      X0, X2  \
	PMOVMSKB X2, AX  \
	XORL     $0xffff, AX

// func scanPlainLines(p *byte, i, end, max int, spans *[plainBatch][4]uint32) (n, next int, done bool)
//
// Registers: SI p, BX the start of the current line, DX end, R8 max, DI the
// next span, R11 n, R9 the line's CR, R10 its colon, R12 and R13 its value's
// start and end; AX and CX are scratch.
TEXT ·scanPlainLines(SB), NOSPLIT, $0-57
	MOVQ  p+0(FP), SI
	MOVQ  i+8(FP), BX
	MOVQ  end+16(FP), DX
	MOVQ  max+24(FP), R8
	MOVQ  spans+32(FP), DI
	XORQ  R11, R11
	CMPQ  DX, $16
	JLT   stop
	MOVOU lineConsts<>+0x00(SB), X8  // 0x1f
	MOVOU lineConsts<>+0x10(SB), X9  // 0x7f
	MOVOU lineConsts<>+0x20(SB), X10 // 0x20
	MOVOU lineConsts<>+0x30(SB), X11 // 'a'
	MOVOU lineConsts<>+0x40(SB), X12 // 'z'-'a'
	MOVOU lineConsts<>+0x50(SB), X13 // '0'
	MOVOU lineConsts<>+0x60(SB), X14 // '9'-'0'
	MOVOU lineConsts<>+0x70(SB), X7  // '-'

line:
	CMPQ R11, R8
	JGE  stop
	MOVQ BX, R9

	// R9 runs to the line's first control byte or DEL; R12 is the last
	// index sixteen bytes can be loaded from.
	LEAQ -16(DX), R12

ctl:
	CMPQ  R9, R12
	JGT   ctltail
	MOVOU (SI)(R9*1), X0
	CTLMASK
	ADDQ  $16, R9
	TESTL AX, AX
	JZ    ctl
	SUBQ  $16, R9
	JMP   ctlfound

ctltail:
	// The last bytes: the sixteen before end, the mask shifted so that
	// its bit 0 is byte R9. None flagged: the line is not complete.
	MOVOU -16(SI)(DX*1), X0
	CTLMASK
	MOVQ  R9, CX
	SUBQ  DX, CX
	ADDQ  $16, CX
	SHRL  CX, AX
	TESTL AX, AX
	JZ    stop

ctlfound:
	BSFL AX, AX
	ADDQ AX, R9
	LEAQ 2(R9), AX
	CMPQ AX, DX
	JGT  stop
	CMPW (SI)(R9*1), $0x0a0d
	JNE  stop
	CMPQ R9, BX
	JEQ  headend
	MOVQ BX, R10

name:
	// R10 runs to the first byte not a letter, digit or '-'.
	LEAQ  16(R10), AX
	CMPQ  AX, DX
	JGT   nametail
	MOVOU (SI)(R10*1), X0
	BADMASK
	JNZ   namefound
	ADDQ  $16, R10
	JMP   name

nametail:
	MOVOU -16(SI)(DX*1), X0
	BADMASK
	MOVQ  R10, CX
	SUBQ  DX, CX
	ADDQ  $16, CX
	SHRL  CX, AX
	TESTL AX, AX
	JZ    stop

namefound:
	BSFL AX, AX
	ADDQ AX, R10
	CMPQ R10, R9
	JGE  stop            // the colon must come before the CR
	CMPQ R10, BX
	JEQ  stop            // empty name
	CMPB (SI)(R10*1), $':'
	JNE  stop

	// The value: without the SP after the colon and before the CR (the
	// line has no HTAB: it would have been its first control byte).
	LEAQ 1(R10), R12

ows:
	CMPQ R12, R9
	JGE  owsdone
	CMPB (SI)(R12*1), $' '
	JNE  owsdone
	INCQ R12
	JMP  ows

owsdone:
	MOVQ R9, R13

trim:
	CMPQ R13, R12
	JLE  record
	CMPB -1(SI)(R13*1), $' '
	JNE  record
	DECQ R13
	JMP  trim

record:
	MOVL R10, 0(DI)
	MOVL R12, 4(DI)
	MOVL R13, 8(DI)
	MOVL R9, 12(DI)
	ADDQ $16, DI
	INCQ R11
	LEAQ 2(R9), BX
	JMP  line

headend:
	ADDQ $2, BX
	MOVQ R11, n+40(FP)
	MOVQ BX, next+48(FP)
	MOVB $1, done+56(FP)
	RET

stop:
	MOVQ R11, n+40(FP)
	MOVQ BX, next+48(FP)
	MOVB $0, done+56(FP)
	RET
