"""The CPU baseline beside the NVDEC test: libavcodec (OpenCV's FFmpeg) decoding 2 s of the
same stream for 12 cameras at once, one process each, frames converted to RGB.
Usage: python3 baseline.py STREAM.mp4"""

import multiprocessing as mp
import sys
import time

import cv2

START, FRAMES = 120, 50  # a key frame (GOP 30), then 2 s at 25 fps


def decode(path):
    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    cap.set(cv2.CAP_PROP_POS_FRAMES, START)
    n = 0
    for _ in range(FRAMES):
        ok, bgr = cap.read()
        if not ok:
            break
        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        n += 1
    return n


if __name__ == "__main__":
    path = sys.argv[1]
    with mp.Pool(12) as pool:
        pool.map(abs, range(12))  # the workers are up before the clock starts
        start = time.perf_counter()
        frames = pool.map(decode, [path] * 12)
        ms = (time.perf_counter() - start) * 1000
    print(f"ffmpeg (OpenCV), 12 processes on {mp.cpu_count()} cores: {sum(frames)} frames in {ms:.0f} ms")
