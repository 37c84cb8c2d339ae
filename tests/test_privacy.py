import pandas as pd

from helpers import privacy


def test_mask_name_keeps_the_surname_only():
    assert privacy.mask_name("张三丰") == "张**"
    assert privacy.mask_name("欧阳娜娜") == "欧***"
    assert privacy.mask_name("Li") == "L*"
    assert privacy.mask_name("王") == "*"
    assert pd.isna(privacy.mask_name(None)) and pd.isna(privacy.mask_name(float("nan")))


def test_mask_mobile_keeps_prefix_and_last_four():
    assert privacy.mask_mobile("17012345678") == "170****5678"
    assert privacy.mask_mobile("1234") == "****"
    assert privacy.mask_mobile(None) is None


def test_mask_frame_masks_every_pii_column_and_leaves_the_rest():
    frame = pd.DataFrame(
        {"customer_id": ["007"], "name": ["李四"], "mobile": ["17100001111"], "aum": [1.5]}
    )
    masked = privacy.mask_frame(frame)
    assert masked.loc[0, "name"] == "李*"
    assert masked.loc[0, "mobile"] == "171****1111"
    assert masked.loc[0, "customer_id"] == "007" and masked.loc[0, "aum"] == 1.5
    assert frame.loc[0, "name"] == "李四", "the input must not be modified"
    assert privacy.has_unmasked_pii(frame) and not privacy.has_unmasked_pii(masked)
