{
 "format": "sigdetect-signature",
 "format_version": 1,
 "signature": {
  "name": "alarm",
  "scorer": "prototype",
  "model_sha256": "862818c34d2ff8ef1fd125a2ba9b0495ea1aba66296978e29ef39ea797cada23",
  "feature_spec": {
   "sample_rate": 16000,
   "n_fft": 512,
   "win_length": 512,
   "hop_length": 160,
   "window": "hann",
   "scale": "mel",
   "n_bands": 64,
   "fmin": 50.0,
   "fmax": 7600.0,
   "log": "log10",
   "log_floor": 1e-10,
   "patch_frames": 96,
   "patch_hop_frames": 8
  },
  "params": {
   "prototypes": {
    "dtype": "float32",
    "shape": [
     3,
     64
    ],
    "base64": "ma/6vCg5yDwXedE9AmZGPRn5H74cxQs8SLWTvQ+jl72fWs48uIvhvITwWD1cKLo9wMYEvuKlZj0nLVA9BBVNPh0XHD2NcD29yBG1vaH+sTxIpe+8Pp5dvmG/qD6RT5a8t0MevnV9cbz8KMA8U9k4PrfsPr02dsA9C9kePiWebj1aoAa+4LIMvdbZUT07WCQ9amBPvrb9XT2Uaku9OpwWPUpMVb7nAxs971OwPnyWKz2L4Ig97yupPSm5Dj2C7hq+HQhkPPs7MD3ABb6+Cx+Dvh13xL0ADvS9lysvvrcmvj3Kirk8MF2MPQhKtj1GNTE8xcHmPI4Hbb7MT808qiKTPaU8V71A5hk9OdmjPS0SUDtJMZy9jRjVPLOCNL3ZR/O8rXYZu5kCvTwVDpo9LI3lO85zNL5tGXk9Fw9vPdS4+j0h+gK9NYkVvmKE7L0K2Je8wspivU23Er4n36w+0DNQPdu2K74RRLO9ndkMvX3SXj662Zu9RZPrPa7AAj5/xJo8zzm2vSRB7rui00+95mkdPeN04L1yUUU8YHfZuzlM1j20lny+8AHeOv4wpD5m+5A8qBTEPY7vJT51dZy7nxGEvbCB9byHpOQ9ZH/AvhT0mr6eY7C9yzAIvguUB75aNaE9BxuFPb2uGj6ywS09T2pDvUvD7jyHdlq+gzdGvJUS6T2vzvi8b6EkuptBkD0FtjQ9bwezvf9IAjwnVU69/Q0uvYlQkDwMITs8ArSaPdY78TwSNzC+bClyPRnmPj0XHhs+oDmYvDgYCL7yaNS98oDdu+2Edb1ovji+acimPsW0hDwBdSa+K1GUvfy5N7yrG3U+SFB0vQ8n6j2tcAI+Ed5aPQnU4L0HbIK8oqPBvBJCcD2z3gC+oMoGPdncyrurhLs9K7BhvogcnTvvmqo+Mt9zPK8JrT2RpSQ+1GafOy7Xw72+zWC7vsrkPX2Vub4RrZ++WZHZvbH/8b1voBe+0tCRPU/0Sj2AhP893jx5Pa/qTLxpPuE8l/JjvtOIHLujzcc9"
   }
  },
  "threshold": 1.0,
  "calibration": {
   "kind": "isotonic",
   "x": {
    "dtype": "float64",
    "shape": [
     6
    ],
    "base64": "AAAA4F16078AAABAxEPoP5obK/zBReg/AAAAoO5Z6T98rZn9VBbqPxSRqhOv1+8/"
   },
   "y": {
    "dtype": "float64",
    "shape": [
     6
    ],
    "base64": "AAAAAAAAAAAAAAAAAAAAAErxqK9jPO8/SvGor2M87z8AAAAAAADwPwAAAAAAAPA/"
   }
  },
  "enrollment": {
   "model": "general",
   "clips": 3,
   "clip_seconds": [
    1.8,
    2.2,
    2.0
   ],
   "clip_sha256": [
    "c5777831bf41f0f67c48ab3632b8fc1926a7c38d5acfd11f1ccf0c6fe1e91ec7",
    "cc779afe0c05cedd27593d18cb7f91ed9caf92e27d30eba56951b92605eb3705",
    "1d2591f5a1d7ecaa4f6a4dc83d9f9e43f58a76f91b45f4e98cb44d15a4e76a8e"
   ],
   "patches_clean": 43,
   "patches_in_noise": 48,
   "enroll_snrs_db": [
    20.0,
    12.0,
    6.0,
    0.0
   ],
   "self_similarity": 0.9561,
   "scorer": "prototype",
   "threshold": 1.0,
   "fa_per_hour_target": 1.0,
   "fa_per_hour_on_background": 0.0,
   "recall_in_noise_at_threshold": 0.989,
   "background": "built-in generic beds",
   "background_hours": 1.0,
   "window_seconds": 0.982,
   "seed": 0
  },
  "created": "2026-11-22T06:23:36+00:00"
 },
 "sha256": "0ae4a0c1aeb09d57546ea5481253a8867ae9e5c2f659d7e6311edcb61ab12ec3"
}
