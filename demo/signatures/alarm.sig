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
  "threshold": 0.5,
  "calibration": {
   "kind": "isotonic",
   "x": {
    "dtype": "float64",
    "shape": [
     271
    ],
    "base64": "20GWhDFd5L/CfCRAARTUv9sx1gyoz9C/QFeuAXX5zb8dsBnFRXjLv31DPV7mhsm/L8jarRH7x7/dA1Z08dXGv09UPp3D9sW/fDhnZdo6xb8AAAC+9JDEvwAAgB5S8MO/nAOK6ydaw78AAICb/L/CvwAAAGdjKcK/AAAAnxCNwb8WtIZ8ZeXAvwAAAMFSNcC/FbJHaGLxvr8AAAC1n3S9v7x1bw/h67u/AAAAa8FSur+pjVWKPKe4v04toSBlAbe/uR1SGQAqtb/1B3JXU2ezv7HJC69lrrG/ldfg4aelr785NJOv9uqrv5wfCvSrcai/YYC0Kuv4pL/P68sXPHuhvwAAACBL4Ju/AAAAlbLclL8AAADB0C6MvwAAgGVBzny/ah4nmHmVTr/Il8Ju9Et2PwAAAO5dfoc/AAAAqSf/kT8OgYrRlQuYPwAAAPaldJ4/J8xbY6tVoj8AAIAntUWlPwAAAMKfLag/AACAVq0Hqz+My3ChPMutP6nnmo8xULA/rkCjeoO9sT+uPchy3QazP4BWK8dtabQ/KAFa0wbQtT9HXIDLXia3P7CzVdvAgrg/AAAA6jPKuT8AAID8IBW7PwAAAIxfcrw/s8rh2KvLvT8AAABifEG/PwAAgOFfVMA/AjU1+X0LwT8AAIAxXrPBP9c2JIJBYcI/AAAAsgEUwz8AAACAdbbDP2wZ60MIY8Q/AAAAVRMHxT8AAICH7LTFP0FvXOL0X8Y/Pnic9H8Ixz/kTi4Kuq3HP+E2DGHaXsg/UIyw8l79yD9GH3z/7KfJP7rQ+TmGXso/AACAXdYPyz+WUXZ29b3LP831gMuzfcw/RyPogPEqzT/7p80ZpeXNP2AdZg8Ypc4/09FpPJB8zz8AAABi8SLQPx1cpOiIkdA/AAAA+Fr+0D+C1ZE4pHHRP+I4roMk7NE/CswVC7Zl0j8qD6Hj5unSPwAAANJyatM///tGelXy0z9C+iHSSHfUP6b5l0AxAdU/I2yWFEiN1T8AAABKSR7WP7I5IIWftNY/3oGK9yBc1z8AOD1kpg7YP60an7Vrwtg/AAAAJN562T+vhNaETDLaPwAAgAh39to/vjFL5KDB2z/mwTAnu5rcP/RC0mt0b90/AACAQnRH3j//wU96RBDfP14dL8H5498/AAAArF1Y4D8ue7Ka9szgP3IPtdotO+E/CuxxK2Gp4T8AAAD41h7iP5sHAmJdm+I/AAAAgsgJ4z8AAIDWUXTjPwAAAHby2+M/AAAArCVC5D/SLCfRb6zkP0PpR84GK+U/7ZIcWKa/5T93K1rutV7mP9wH9uxlI+c/ix6lwzIN6D9WF5IIa0XoP5obK/zBReg/hKoDO/Tu6D8t2ixZaYzpPw7SFrGevek/wEb7AkUW6j98rZn9VBbqP7LXKbzrS+o/y6UZF6Cn6j+tXd0B1q3qP+K9F2/KK+s/6pL1juDF6z/0WccLwCvsPyLEEANA++w/+tRhBKX87D+4pMVR7//sP75SPbiCCu0/PlDEumAm7T+6IV5SRETtP1CUPONwYu0/0WCaqiyK7T+1Bf6+yZHtP45mv4JXl+0/bl6hVi+Z7T937ym4NJztP1/KUWUKsu0/8Uf0CssL7j8OEHUVbRruP0qA3/a8H+4/OffLquUx7j9fhF+cTj7uP/eME3PxQO4/X1Q/27lB7j8zdTqA7UPuP0jzbXikSu4/nZgtEG5R7j8e7IziGlnuPy2IOk1TbO4/8TGNOaxz7j84qgHlOHjuP1pnsEQmgO4/oYvfFnmG7j+SkUWoAYnuP6diAdxIie4/xTgWcNGJ7j9vDf78pIruP8JE8/p3uu4/4MJlZx/e7j91gSwFwfXuPyW0Cr4TBO8/rRm+HEQN7z/peDu6nxLvP/YLhoevE+8/sY98aEwW7z9iwkn4SBjvP0COnTxpGe8/VpV72T0k7z+pqF10tCvvP8OUyuOIMO8/YTCtJZEz7z8EEPW4gjXvP9L1ABBGN+8/t39xQWE57z/KgkEcYj3vP3GhYPjJQe8/9pm8EkdG7z9O/UB0v0jvP9NlWSHeTO8/OY8M3XVR7z8NQGfUhVTvP81wXgtrWu8/a7weD3Bf7z9iw9or2WHvP3mSJhD1Y+8/Xq4Af0Bl7z+W058pzGXvPx3QRsTzZe8/c7NEXHJm7z/d/EpWXmfvP5In0xQLae8/199dJDBq7z+QS7YS+WrvPzVdfSJma+8/y2G9g7Nt7z/7QXtG0XHvP249yrq0du8/yVTzKZd47z/DRe/YOHrvPzc0/oxJe+8/4WgNXU177z9954VXlXzvP+0w41a0fe8/oC7IIG5+7z80cmCJen7vPxizm9ykfu8/3Xq/JeB+7z9FifmeFn/vP6m0EPn3gO8/hkMnmrGC7z+LfgwsRoPvPwRhvv9Che8/ZWcEJaKG7z8Hz2DHSIfvP5WCBW2Sh+8/DOErPeGH7z/T4Yh+XYjvP+a4Ojleie8/7SiecCOK7z8kciaqJovvP2YwFDSajO8//WsO/emP7z9NLt7ms5HvP5oJAh1Xku8/AjIpYaKT7z8mRz91GJTvPxI6OkxNlO8/bRPcvLaU7z8+aiWavJXvPz6/BCr0l+8/xthO1H+b7z+99BpC/pzvP3i2sGkOn+8/J/ceX22h7z/fw2h6d6PvP3L0r6wIpO8/rqacJkGl7z+iG+URvKjvP9PUfTg/qe8/VJrPmp2p7z/WWtRmHqrvP9QJPjVequ8///IoFU+r7z+RzyKHcazvP6/EeovrrO8/Q0uo0pit7z+8QrslLq7vPyGaWemGru8/mumyUcSu7z+AZ+yZbrPvP71Sco9Yu+8/zQEY6Dy+7z9fvSRdWr/vP+mse3U+wO8/Nqg9wLnC7z/Rq6VFl8vvP5n2ZKFC0+8/FJGqE6/X7z8="
   },
   "y": {
    "dtype": "float64",
    "shape": [
     271
    ],
    "base64": "aU8pydZuNj6r6q28hR/LPpfLhuVuGts+jeRy6c9S5D5ZdgsgeRvrPkDx9VHL8PA+8ZkuU/tT9D5b63Djs7j3PiAPv3YmHPs+hKATT7p//j62Uiy3t/EAPy2TvK1WpAI/3ksUjlJWBD+PHcQUXwgGP6Ud9hkwuwc/hr4c911tCT8qAXx9nB8LPyUg9pmf0gw/eB6PfP+EDj+J+KAFuBsQP6YrgqP49BA/oK0unJvOET9c7QTs7KcSP3EB1JNGgRM/ta8/ogJbFD+F0+b+bDQVP1Qr+LTfDRY/Gol53bTnFj8onkZLOMEXPwec7xPEmhg/7sDvN1h0GT/pPyfeTk4aPxxGvr3zJxs/3pke+qABHD/Kq47EsNscP7cca79utR0/LleDGDWPHj/A21LQA2kfP04KAJOaISA/FHcUUIqOID/k/z09fvsgP3ASRX+jaCE/YqsOz5/VIT8sAqdPoEIiP/ejDCvSryI/RMa4D9scIz8Wc+0l6IkjP0ya6G359iM/ssecGDxkJD9h05vGVdEkP1ZfG6dzPiU/TjJG8MKrJT+TJj446RgmP//LcLMThiY/xwtCnW/zJj9w82GBomAnPyTodpnZzSc/hAm/5RQ7KD9hRJaogagoP3A/vV/FFSk/gPzRSw2DKT/zp2u0hvApP9Hh1AzXXSo/K57mmivLKj80MXSrsTgrP+RjUKcOpis/uASQ2W8TLD9DY3FC1YAsP17fwzVs7iw/oMtiDtpbLT/mml4eTMktP5jzxL7vNi4/EhT1P2qkLj81aD356BEvPzJh3Oprfy8/YoXedCDtLz9J+tLsVS0wP4TJv7sdZDA/wCbcWf6aMD8U+BhjytEwP/u7PImYCDE/tZCOgX8/MT8qSb7iUXYxP9rkMmEmrTE/gbQL/fzjMT8DTRFv7BoyP+fk8EbHUTI/br6SPKSIMj8kJ2ELmr8yPwMhxj179jI//H9Ljl4tMz9Rv/26WmQzP2LCAklCmzM/0GOG9SvSMz+NDKjAFwk0P8O292scQDQ/NZmUdQx3ND9c2S2e/q00P7Kw9qkJ5TQ/UBTIEQAcNT/qQfSY+FI1P26zmj/ziTU/Uo5zzQbBNT8cQU60Bfg1P0rBAbsGLzY/v4XqqyBmNj87l4/zJZ02P4EVbFst1DY/mj6BsE0LNz8mygxaWUI3P9h3LiRneTc/ANoFD3ewNz+NJRvrn+c3P/V1nhi0Hjg/ek02Z8pVOD8tuxCq+Yw4P5NjEjwUxDg/zHuH7zD7OD/+YkSaZjI5P9Na4ZGHaTk/KsFQq6qgOT/QQLLmz9c5P1Y8Yx0ODzo/ekDqnTdGOj+v7eBAiVI6P5ijB2m3yZo/Ps7NxWnLmj/ndVs3HM2aPxTj/AmazZo/DOgpW3zOmj843LpxkbixP+heiOnluLE//6rC8HG7sT9+cxV9eLuxP9PvymUdvLE/tHgg9ue+sT/Bf63QU7+xP/8Uqb7xv7E/X2l900bb3z92+TedVNvfP6njWL5s298/tCxDgVrn3z/ff7qwb/PfP22f4UKU/98/m4lBn+7/3z8AAAAAAADgP1XrZ7AIAOA/HJB9NSZ74D+ecC/hKXvgP46aAVp+geA/pTD87byB4D9KDM1KxIHgP49qsUtXpec/jkFZtWWl5z9Wz8VPaaXnP7S5nKo6Auo/tLmcqjoC6j+0uZyqOgLqP7MdveDrEOo/Xdil4qwf6j9mAt7JfS7qP6XJe4eGLuo/UAc0d2c96j9ySUroXEzqPwnIllBhTOo/x1vG8SmW6j8XtO8Zm8PqPxe07xmbw+o/XrNN3x7T6j9es03fHtPqP3p/HMmz4uo/4g7V81ny6j8iiS98EQLrPyKJL3wRAus/wPYjf9oR6z+/8uoZtSHrP7/y6hm1Ies/fF/+aaEx6z/fHBqNn0HrP6XBPKGvUes/pcE8oa9R6z8eV6jE0WHrP6sW4xUGcus/qxbjFQZy6z/QKrizTILrP8lxOL2lkus/yXE4vaWS6z9oQ7tREaPrP5M535CPs+s/v/qKmiDE6z+/+oqaIMTrPysI7o7E1Os/1o2Bjnvl6z/WjYGOe+XrP/A1CbpF9us/KP+TMiMH7D8o/5MyIwfsPyEVfRkUGOw/+KxskBgp7D+h41i5MDrsP6HjWLkwOuw/CaCGtlxL7D9XeIqqnFzsP1d4iqqcXOw/hJlJuPBt7D9Es/oCWX/sPwbmJq7VkOw/BuYmrtWQ7D8AtardZqLsP4/7trUMtOw/j/u2tQy07D845dFax8XsPzzq1/GW1+w/POrX8ZbX7D+Jzvyfe+nsP/mkzIp1++w/MtYs2IQN7T8y1izYhA3tP3sqXa6pH+0/ANj4M+Qx7T8A2Pgz5DHtP+eU9480RO0/aayu6ZpW7T9prK7pmlbtPxMZ0mgXae0/xaF1Nap77T+U+w14U47tP5T7DXhTju0/xe9xWROh7T8hhdsC6rPtPyGF2wLqs+0/zy7pndfG7T89/p5U3NntPz3+nlTc2e0/RNpnUfjs7T/Cuha/KwDuP+7n58h2E+4/7ufnyHYT7j+HP4Ka2SbuP319+F9UOu4/fX34X1Q67j8sispF503uP3vN5niSYe4/EoarJlZ17j8ShqsmVnXuP94m6Hwyie4/a7jeqSed7j9ruN6pJ53uP0JARdw1se4/pi1HQ13F7j+mLUdDXcXuP7/Khg6e2e4/m7Qebvjt7j9rV6OSbALvP2tXo5JsAu8/R3EkrfoW7z/Fmi7voivvP8WaLu+iK+8/ctTMimVA7z+wG4qyQlXvP7AbirJCVe8/QgRzmTpq7z/pWBdzTX/vP1bCi3N7lO8/VsKLc3uU7z+Pc2vPxKnvPzze2bspv+8/PN7Zuym/7z8sbIRuqtTvP45ApB1H6u8/XCkD8///7z8="
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
   "threshold": 0.5,
   "fa_per_hour_target": 1.0,
   "fa_per_hour_on_background": 0.0,
   "event_rules": {
    "min_windows": 2,
    "merge_windows": 17
   },
   "distractors": "built-in distractor events",
   "distractor_events": 1330,
   "distractors_like_target": 0,
   "distractors_firing": 11,
   "other_sounds_per_hour_assumed": 120.0,
   "fa_per_hour_from_other_sounds": 0.992,
   "fa_per_hour_expected": 0.992,
   "recall_in_noise_at_threshold": 0.9121,
   "recall_unseen_shot_in_noise": 0.7917,
   "recall_unseen_shot_by_snr_db": {
    "20": 1.0,
    "12": 0.9167,
    "6": 0.6667,
    "0": 0.5833
   },
   "background": "built-in generic beds",
   "background_hours": 1.0,
   "window_seconds": 0.982,
   "seed": 0
  },
  "created": "2026-11-22T08:23:17+00:00"
 },
 "sha256": "b63f17f63fb580bf8a93a2c38cfacd214fc6b47edffca9a715b2faaf8c9e8a2b"
}
